import CCrypt
import Glibc

/// A password hash in crypt(3)'s format (`$2b$…` bcrypt, `$6$…` sha512-crypt, `$y$…` yescrypt), as
/// htpasswd files hold them, checked with the system's libxcrypt.
///
/// Verifying is deliberately slow (bcrypt at cost 10 takes 50–100 ms of CPU): call `verify` off the
/// loop thread (`BlockingWorkers`). It is thread-safe: each call has its own `crypt_data`.
public struct PasswordHash: Sendable, Hashable {
    public let text: String

    /// Wraps `text` when libxcrypt accepts it as a setting it may hash with today; nil for a
    /// format it does not know (Apache's `$apr1$` MD5, `{SHA}`, plain text) or one it calls legacy
    /// and weak (DES, `$1$` MD5), or a setting without its hash (`$6$salt`), so that a file of such
    /// hashes is refused at start rather than refusing every user at run time.
    /// The corresponding C function is `crypt_checksalt(3)`.
    public init?(_ text: String) {
        // `$id$[params$]salt$hash` or bcrypt's `$2b$cost$salthash`: the hash, last, is at least 22
        // characters in every method libxcrypt has.
        let fields = text.split(separator: "$", omittingEmptySubsequences: false)
        guard text.hasPrefix("$"), fields.count >= 4, let last = fields.last, last.count >= 22,
              crypt_checksalt(text) == CRYPT_SALT_OK else { return nil }
        self.text = text
    }

    /// Whether `password` hashes to this hash. The hashes are compared in constant time.
    /// The corresponding C function is `crypt_rn(3)`.
    public func verify(_ password: String) -> Bool {
        // struct crypt_data is about 32 KiB: too large for a worker thread's stack frame habitually.
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        defer {
            // It held the password on the way through.
            UnsafeMutableRawPointer(data).initializeMemory(as: UInt8.self, repeating: 0,
                                                           count: MemoryLayout<crypt_data>.size)
            data.deallocate()
        }
        UnsafeMutableRawPointer(data).initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<crypt_data>.size)
        guard let result = crypt_rn(password, self.text, data, CInt(MemoryLayout<crypt_data>.size)) else {
            return false
        }
        // On failure libxcrypt returns a string starting with "*", never a valid hash.
        let computed = Array(UnsafeRawBufferPointer(start: result, count: strlen(result)))
        return ConstantTime.equal(computed, Array(self.text.utf8))
    }
}
