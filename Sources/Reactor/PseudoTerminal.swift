import CGlibc
import Glibc

/// A new pseudo-terminal pair: the master, which wsgate keeps, and the slave, which a child
/// gets as its stdin and stdout (`ChildProcess.StandardIO.terminal`).
///
/// Why a terminal at all: C stdio, Python, grep and awk block-buffer stdout when it is a pipe
/// and line-buffer it when it is a terminal, so on a terminal each line a program writes
/// reaches wsgate at once without the program flushing.
///
/// Why raw mode (what cfmakeraw(3) sets): the line discipline would otherwise sit between
/// wsgate's bytes and the program's. Echo would send every input line back as output,
/// canonical mode would hold input until a newline (and cut lines at 4095 bytes), ^C, ^Z and
/// ^\\ in the data would become signals and ^D an end of file, ICRNL would turn "\r" into
/// "\n", ISTRIP would clear the eighth bit, and output processing would turn each "\n" into
/// "\r\n". Raw, the pair carries bytes unchanged both ways and is still a terminal to the
/// program (isatty, a window size, a controlling terminal).
///
/// Deliberately not done: no window size changes after the start, no packet mode, no way to
/// send an end of file (raw mode has no EOF character); the stream ends by closing the master.
struct PseudoTerminal {
    /// wsgate's side: non-blocking, close-on-exec, and read with the EIO rule (`Pipe.End.read`).
    let master: Pipe.End
    /// The child's side: blocking, as programs expect, and close-on-exec. The caller closes it
    /// once the child has it.
    let slave: FileDescriptor

    /// The window size a program sees (TIOCGWINSZ): a VT100's 80x24. Programs that lay out
    /// text (ls, less, readline) ask for it rather than guess, and some refuse a size of 0.
    static let columns: UInt16 = 80
    static let rows: UInt16 = 24

    /// Opens a pair, the slave raw and 80x24.
    ///
    /// Neither side becomes wsgate's controlling terminal (O_NOCTTY): the child claims the
    /// slave as its own (TIOCSCTTY) after setsid.
    /// - Throws: `SystemError` from "posix_openpt", "grantpt", "unlockpt", "ptsname_r", "open",
    ///   "tcgetattr", "tcsetattr" or "ioctl(TIOCSWINSZ)"; nothing stays open then.
    ///
    /// The corresponding C functions are `posix_openpt(3)`, `grantpt(3)`, `unlockpt(3)`,
    /// `ptsname_r(3)` and `open(2)`.
    static func open() throws(SystemError) -> PseudoTerminal {
        let master = FileDescriptor(
            rawValue: try systemCall("posix_openpt") {
                wsgate_posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
            }
        )
        do throws(SystemError) {
            _ = try systemCall("grantpt") { wsgate_grantpt(master.rawValue) }
            _ = try systemCall("unlockpt") { wsgate_unlockpt(master.rawValue) }
            // "/dev/pts/" and a number; a longer name would be ERANGE.
            var path = [CChar](repeating: 0, count: 64)
            let result = wsgate_ptsname_r(master.rawValue, &path, path.count)
            guard result == 0 else { throw SystemError(call: "ptsname_r", errno: Errno(rawValue: result)) }
            let slave = FileDescriptor(
                rawValue: try systemCall("open") { Glibc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC) }
            )
            do throws(SystemError) {
                try slave.makeTerminalRaw()
                try slave.setWindowSize(columns: PseudoTerminal.columns, rows: PseudoTerminal.rows)
            } catch {
                try? slave.close()
                throw error
            }
            return PseudoTerminal(master: Pipe.End(takingTerminalMaster: master), slave: slave)
        } catch {
            try? master.close()
            throw error
        }
    }
}

extension FileDescriptor {
    /// Puts the terminal in raw mode, as cfmakeraw(3) defines it: no echo, no canonical line
    /// editing, no signal characters, no input or output translation, 8 bits per byte, and a
    /// read returns as soon as one byte is there.
    /// The corresponding C functions are `tcgetattr(3)`, `cfmakeraw(3)` and `tcsetattr(3)`.
    func makeTerminalRaw() throws(SystemError) {
        var settings = termios()
        _ = try systemCall("tcgetattr") { tcgetattr(self.rawValue, &settings) }
        cfmakeraw(&settings)
        _ = try systemCall("tcsetattr") { tcsetattr(self.rawValue, TCSANOW, &settings) }
    }

    /// Sets the terminal's window size in characters; the pixel size stays unknown (0).
    /// The corresponding C function is `ioctl(2)` with TIOCSWINSZ.
    func setWindowSize(columns: UInt16, rows: UInt16) throws(SystemError) {
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = try systemCall("ioctl(TIOCSWINSZ)") { wsgate_ioctl(self.rawValue, UInt(TIOCSWINSZ), &size) }
    }
}
