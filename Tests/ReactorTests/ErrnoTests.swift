import Glibc
import Testing

@testable import Reactor

extension ReactorTests {
    @Suite struct ErrnoTests {
        @Test func errnoPrintsSymbolicNameAndMessage() {
            #expect(Errno.tooManyOpenFiles.name == "EMFILE")
            #expect(Errno.tooManyOpenFiles.description == "EMFILE: Too many open files")
            #expect(Errno.wouldBlock.name == "EAGAIN")
        }

        @Test func unknownErrnoFallsBackToNumber() {
            #expect(Errno(rawValue: 4242).name == "E4242")
            #expect(Errno(rawValue: 4242).description == "E4242: Unknown error 4242")
        }

        @Test func systemErrorNamesCallAndErrno() {
            let error = SystemError(call: "accept4", errno: .tooManyOpenFiles)
            #expect(error.description == "accept4: EMFILE: Too many open files")
        }

        @Test func retryingInterruptsThrowsOtherErrors() {
            #expect(throws: Errno.brokenPipe) {
                try retryingInterrupts { () -> CInt in
                    errno = EPIPE
                    return -1
                }
            }
        }

        @Test func retryingInterruptsRetriesEINTR() throws {
            var calls = 0
            let result = try retryingInterrupts { () -> CInt in
                calls += 1
                if calls < 3 {
                    errno = EINTR
                    return -1
                }
                return 7
            }
            #expect(result == 7)
            #expect(calls == 3)
        }

        @Test func signalNamesAreSpelledOut() {
            #expect(signalName(SIGTERM) == "SIGTERM")
            #expect(signalName(SIGKILL) == "SIGKILL")
            #expect(signalName(SIGUSR1) == "SIGUSR1")
        }
    }
}
