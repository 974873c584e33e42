/// Comparisons whose time does not depend on where two secrets differ.
public enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes, in time that depends only on their lengths: every
    /// byte is looked at, with no early exit on the first difference.
    public static func equal(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count) | (a.count == b.count ? 0 : 1)
        var left = a.makeIterator()
        // The time follows the length of `b`, never the position of the first difference.
        for right in b {
            let byte = left.next() ?? 0
            difference |= byte ^ right
        }
        return difference == 0
    }
}
