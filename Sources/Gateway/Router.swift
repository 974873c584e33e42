/// Finds the route for a request path: an exact match first, else the longest matching prefix.
///
/// A value: a reload builds a new router, and sessions already routed keep their `ServedRoute`.
struct Router {
    let routes: [ServedRoute]

    init(_ routes: [ServedRoute]) {
        // Longest prefix first, so "/chat/private/*" wins over "/chat/*".
        self.routes = routes.filter(\.route.isExact)
            + routes.filter { !$0.route.isExact }.sorted { $0.pattern.count > $1.pattern.count }
    }

    func route(for path: String) -> ServedRoute? {
        self.routes.first { $0.route.matches(path) }
    }
}
