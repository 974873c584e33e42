import Glibc

/// A NULL-terminated array of C strings for argv and envp, freed after use.
enum CStringArray {
    static func with<R, E: Error>(
        _ strings: [String]?,
        _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) throws(E) -> R
    ) throws(E) -> R {
        guard let strings else { return try body(nil) }
        let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() {
            array[index] = strdup(string)
        }
        array[strings.count] = nil
        defer {
            for index in 0..<strings.count {
                free(array[index])
            }
            array.deallocate()
        }
        return try body(UnsafePointer(array))
    }
}
