import Glibc
import Testing

@testable import Reactor

extension ReactorTests {
    @Suite struct ChildProcessTests {
        @Test func trueExitsWithZero() throws {
            let process = try ChildProcess.spawn(executable: "/bin/true")
            let status = try exitStatus(of: process)
            #expect(status == .exited(0))
            #expect(status?.isSuccess == true)
        }

        @Test func exitCodeIsReported() throws {
            let process = try ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", "exit 3"])
            let status = try exitStatus(of: process)
            #expect(status == .exited(3))
            #expect(status?.description == "exited with status 3")
        }

        @Test func bareNamesAreFoundInPATH() throws {
            let process = try ChildProcess.spawn(executable: "true")
            #expect(try exitStatus(of: process) == .exited(0))
        }

        @Test func killedChildReportsTheSignal() throws {
            let process = try ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", "exec sleep 100"])
            #expect(try process.tryWait() == nil)
            try process.signal(SIGTERM)
            let status = try exitStatus(of: process)
            #expect(status == .signaled(SIGTERM))
            #expect(status?.description == "killed by SIGTERM")
        }

        @Test func signalAfterReapIsESRCH() throws {
            let process = try ChildProcess.spawn(executable: "/bin/true")
            defer { process.close() }
            #expect(try process.waitForExit() == .exited(0))
            #expect(try process.tryWait() == .exited(0))
            #expect(throws: SystemError(call: "pidfd_send_signal", errno: .noSuchProcess)) {
                try process.signal(SIGTERM)
            }
            #expect(throws: SystemError(call: "kill", errno: .noSuchProcess)) {
                try process.signalGroup(SIGTERM)
            }
        }

        @Test func onExitAfterReapStillReports() throws {
            let process = try ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", "exit 5"])
            #expect(try process.waitForExit() == .exited(5))
            #expect(try exitStatus(of: process) == .exited(5))
        }

        /// Something else in the process reaped the child (a stray waitpid): the pidfd stays
        /// readable and waitid fails with ECHILD. The watcher must report that once, not wake the
        /// loop for ever.
        @Test func onExitReportsChildReapedElsewhereInsteadOfSpinning() throws {
            let process = try ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", "exit 3"])
            var status: CInt = 0
            #expect(waitpid(process.pid, &status, 0) == process.pid)
            #expect(try exitStatus(of: process, limit: .seconds(5)) == .unknown(.noChildProcess))
        }

        @Test func childLeadsItsOwnProcessGroup() throws {
            let process = try ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", "exec sleep 100"])
            #expect(getpgid(process.pid) == process.pid)
            #expect(getpgid(process.pid) != getpgrp())
            try process.signalGroup(SIGKILL)
            #expect(try exitStatus(of: process) == .signaled(SIGKILL))
        }

        @Test func signalGroupKillsTheWholeTree() throws {
            let process = try ChildProcess.spawn(
                executable: "/bin/sh",
                arguments: ["-c", "sleep 100 & sleep 100 & wait"],
                standardOutput: .discard
            )
            let group = process.pid
            // Wait (bounded) until the shell has started both sleeps.
            var members: [pid_t] = []
            var attempts = 0
            while members.count < 3 && attempts < 500 {
                usleep(10_000)
                members = livingMembers(ofGroup: group)
                attempts += 1
            }
            #expect(members.count == 3)
            try process.signalGroup(SIGTERM)
            #expect(try exitStatus(of: process) == .signaled(SIGTERM))
            attempts = 0
            while !livingMembers(ofGroup: group).isEmpty && attempts < 500 {
                usleep(10_000)
                attempts += 1
            }
            #expect(livingMembers(ofGroup: group).isEmpty)
        }

        @Test func pipesCarryStdinStdoutAndStderr() throws {
            let process = try ChildProcess.spawn(
                executable: "/bin/sh",
                arguments: ["-c", "read line; echo \"got $line\"; echo oops >&2"],
                standardInput: .pipe,
                standardOutput: .pipe,
                standardError: .pipe
            )
            let stdin = try #require(process.standardInput)
            #expect(try stdin.fd.isNonBlocking())
            #expect(try stdin.fd.write([UInt8]("hello\n".utf8)) == .processed(6))
            stdin.close()
            #expect(try readToEnd(try #require(process.standardOutput)) == "got hello\n")
            #expect(try readToEnd(try #require(process.standardError)) == "oops\n")
            #expect(try exitStatus(of: process) == .exited(0))
        }

        @Test func environmentAndWorkingDirectoryAreApplied() throws {
            let process = try ChildProcess.spawn(
                executable: "/bin/sh",
                arguments: ["-c", "echo \"$GREETING $(pwd) $HOME\""],
                environment: ["GREETING": "hi", "PATH": "/usr/bin:/bin"],
                workingDirectory: "/tmp",
                standardOutput: .pipe
            )
            #expect(try readToEnd(try #require(process.standardOutput)) == "hi /tmp \n")
            #expect(try exitStatus(of: process) == .exited(0))
        }

        @Test func childStartsWithDefaultSignalsEmptyMaskAndOnlyStdio() throws {
            // Give the child something to wrongly inherit: a blocked signal, and a
            // descriptor without close-on-exec.
            var blocked = sigset_t()
            sigemptyset(&blocked)
            sigaddset(&blocked, SIGUSR2)
            pthread_sigmask(SIG_BLOCK, &blocked, nil)
            let (a, b) = try Socket.pair()
            defer { a.close(); b.close() }
            try a.fd.setCloseOnExec(false)

            // The programs inspect themselves: a shell would show the mask it sets while it waits.
            let signals = try ChildProcess.spawn(
                executable: "grep",
                arguments: ["-E", "^Sig(Blk|Ign)", "/proc/self/status"],
                standardInput: .discard,
                standardOutput: .pipe
            )
            let output = try readToEnd(try #require(signals.standardOutput))
            #expect(output == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n")
            #expect(try exitStatus(of: signals) == .exited(0))

            // ls has the directory it lists open as descriptor 3.
            let descriptors = try ChildProcess.spawn(
                executable: "ls",
                arguments: ["/proc/self/fd"],
                standardOutput: .pipe
            )
            #expect(try readToEnd(try #require(descriptors.standardOutput)) == "0\n1\n2\n3\n")
            #expect(try exitStatus(of: descriptors) == .exited(0))
        }

        @Test func missingExecutableIsENOENTFromExecve() throws {
            #expect(throws: SystemError(call: "execve", errno: .noSuchFileOrDirectory)) {
                _ = try ChildProcess.spawn(executable: "/nonexistent/handler")
            }
            #expect(throws: SystemError(call: "execve", errno: .noSuchFileOrDirectory)) {
                _ = try ChildProcess.spawn(executable: "no-such-handler-anywhere")
            }
        }

        @Test func nonExecutableFileIsEACCES() throws {
            let path = "/tmp/wsgate-reactor-not-executable-\(getpid())"
            let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o644)
            try #require(fd >= 0)
            close(fd)
            defer { unlink(path) }
            #expect(throws: SystemError(call: "execve", errno: .permissionDenied)) {
                _ = try ChildProcess.spawn(executable: path)
            }
        }

        @Test func badWorkingDirectoryIsENOENTFromChdir() throws {
            #expect(throws: SystemError(call: "chdir", errno: .noSuchFileOrDirectory)) {
                _ = try ChildProcess.spawn(executable: "/bin/true", workingDirectory: "/nonexistent", standardOutput: .pipe)
            }
        }

        /// PR_SET_PDEATHSIG follows the spawning thread: when it exits, the child is killed.
        @Test func childDiesWithTheThreadThatSpawnedIt() throws {
            final class Box: @unchecked Sendable {
                var process: ChildProcess?
            }
            let box = Box()
            let join = startThread {
                box.process = try? ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", "exec sleep 100"])
            }
            join()
            let process = try #require(box.process)
            #expect(try exitStatus(of: process) == .signaled(SIGKILL))
        }

        @Test func spawningLeavesNoDescriptorsAndNoZombies() throws {
            var spawned: [pid_t] = []
            try expectNoDescriptorLeak {
                for _ in 0..<20 {
                    let process = try ChildProcess.spawn(
                        executable: "/bin/sh",
                        arguments: ["-c", "cat"],
                        standardInput: .pipe,
                        standardOutput: .pipe,
                        standardError: .discard
                    )
                    spawned.append(process.pid)
                    process.standardInput?.close()
                    _ = try readToEnd(try #require(process.standardOutput))
                    #expect(try exitStatus(of: process) == .exited(0))
                }
                #expect(throws: SystemError.self) {
                    _ = try ChildProcess.spawn(executable: "/bin/true", workingDirectory: "/nonexistent", standardInput: .pipe, standardOutput: .pipe)
                }
            }
            // Each child was reaped: none is left for waitid. Only our own pids are asked about, since
            // other suites in this process may have children of their own right now.
            for pid in spawned {
                var info = siginfo_t()
                let result = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG)
                #expect(result == -1 && errno == ECHILD, "child \(pid) not reaped")
            }
        }
    }
}

/// Processes in `group` that have not exited (zombies do not count).
func livingMembers(ofGroup group: pid_t) -> [pid_t] {
    guard let directory = opendir("/proc") else { return [] }
    defer { closedir(directory) }
    var members: [pid_t] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let pid = pid_t(name), let file = fopen("/proc/\(pid)/stat", "r") else { continue }
        var line = [UInt8](repeating: 0, count: 1024)
        let read = line.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { fgets($0.baseAddress, 1024, file) != nil }
        }
        fclose(file)
        guard read else { continue }
        let text = String(decoding: line.prefix { $0 != 0 }, as: UTF8.self)
        // "pid (comm) state ppid pgrp ...": comm may contain spaces, so split after ')'.
        guard let close = text.lastIndex(of: ")") else { continue }
        let fields = text[text.index(after: close)...].split(separator: " ")
        if fields.count > 2, fields[0] != "Z", pid_t(fields[2]) == group {
            members.append(pid)
        }
    }
    return members
}
