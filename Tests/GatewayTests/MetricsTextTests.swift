import Testing

@testable import Gateway

/// The Prometheus text format as `MetricsText` writes it (exposition format 0.0.4).
@Suite("Metrics text format")
struct MetricsTextTests {
    @Test func labelValuesEscapeBackslashQuoteAndNewline() {
        var text = MetricsText()
        text.sample("m", [("route", "/a\\b\"c\nd")], 3)
        #expect(text.text == "m{route=\"/a\\\\b\\\"c\\nd\"} 3\n")
    }

    @Test func helpEscapesBackslashAndNewlineButNotQuotes() {
        var text = MetricsText()
        text.family("m", "counter", "a \"b\" \\ c\nd")
        #expect(text.text == "# HELP m a \"b\" \\\\ c\\nd\n# TYPE m counter\n")
    }

    @Test func histogramBucketsAreCumulativeAndEndWithInf() {
        var histogram = Histogram(bounds: [0.1, 1])
        for value in [0.05, 0.1, 0.5, 7] { histogram.observe(value) }
        var text = MetricsText()
        text.histogram("h", [("route", "/e")], histogram)
        #expect(text.text == """
            h_bucket{route="/e",le="0.1"} 2
            h_bucket{route="/e",le="1.0"} 3
            h_bucket{route="/e",le="+Inf"} 4
            h_sum{route="/e"} 7.65
            h_count{route="/e"} 4

            """)
    }

    @Test func escapingLeavesPlainTextAlone() {
        #expect(MetricsText.escaped("/chat/*", quotes: true) == "/chat/*")
    }
}
