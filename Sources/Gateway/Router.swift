/// Finds the route for a request path: an exact match first, else the longest matching prefix.
struct Router {
    let routes: [Route]

    init(_ routes: [Route]) {
        // Longest prefix first, so "/chat/private/*" wins over "/chat/*".
        self.routes = routes.filter(\.isExact) + routes.filter { !$0.isExact }.sorted { $0.pattern.count > $1.pattern.count }
    }

    func route(for path: String) -> Route? {
        self.routes.first { $0.matches(path) }
    }
}
