// The shared protocols' files name `Message`, which Gateway declares in Handlers/SessionHandler.swift
// beside the `SessionHandler` protocol, and that file needs the whole server. This is the same enum, so
// the protocol files compile alone; if Gateway's changes shape, the fuzz build stops compiling.

/// A whole data message (a copy of Gateway's `Message`).
public enum Message: Equatable, Sendable {
    case text(String)
    case binary([UInt8])
}
