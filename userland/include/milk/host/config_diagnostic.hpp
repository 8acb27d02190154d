// The host config's numbered diagnostics, rendered as
//
//   FILE:LINE:COL: error[H0011]: instance "echo": unknown placement "prcess"
//     note: allowed: inproc, process, kernel
//
// and, for an override (which has no line), with its source in place of the
// file: `--place: error[H0021]: ...`, `MILK_PLACE: error[H0021]: ...`.
// Every code is listed in docs/components.md ("Config errors") and has a
// test case under tests/host/config/H####-name.toml.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace milk::host {

// The number is part of the user-facing interface: never renumber, only add.
enum class DiagnosticCode : std::uint16_t {
    SyntaxError = 1,             // H0001 not TOML (toml++'s message and position)
    DuplicateInstance = 2,       // H0002 two [name] tables with one name
    NoInstances = 3,             // H0003 a config without any instance
    NotAnInstance = 4,           // H0004 a top-level key that is not a table
    BadInstanceName = 5,         // H0005 an instance name that is not [a-z0-9_-], 1-63 bytes
    MissingKey = 6,              // H0006 no `component` or no `placement`
    UnknownKey = 7,              // H0007 a key an instance table does not have
    ReservedKey = 8,             // H0008 a key reserved for a later version (`relocation`)
    WrongType = 9,               // H0009 a key with a value of the wrong TOML type
    UnknownComponent = 10,       // H0010 a component not compiled into this host
    UnknownPlacement = 11,       // H0011 a placement other than inproc, process, kernel
    UnsupportedPlacement = 12,   // H0012 a placement the component does not support
    KernelNotLoaded = 13,        // H0013 `kernel` when milk.ko is not loaded
    KernelLacksComponent = 14,   // H0014 `kernel` when milk.ko does not have the component
    BadSettingName = 15,         // H0015 a setting's name that is not [a-z0-9_], 1-23 bytes
    BadSettingValue = 16,        // H0016 a setting's value that is not an integer
    TooManySettings = 17,        // H0017 more than 8 settings
    UnknownSetting = 18,         // H0018 a setting the component does not read
    MalformedOverride = 20,      // H0020 an override that is not INSTANCE=PLACEMENT
    OverrideUnknownInstance = 21,// H0021 an override names no instance of the config
    ConflictingOverride = 22,    // H0022 one instance placed twice by one source
    UnknownRestartPolicy = 23,   // H0023 a `restart` other than "never" or "on-failure"
    BadRestartLimit = 24,        // H0024 a `restart_limit` that is not an integer from 1 to 1000
    BadSpin = 25,                // H0025 a `spin_us` that is not an integer from 0 to 1,000,000
    UnreadableFile = 30,         // H0030 the config file cannot be read, or is over 1 MiB
    TooManyErrors = 99,          // H0099 the report stops after max_diagnostics errors
};

// "H0011" for DiagnosticCode::UnknownPlacement.
[[nodiscard]] std::string code_string(DiagnosticCode code);

// Where a value came from. A file position has a line and a column (both
// 1-based); an override has neither, and `file` names its source ("--place",
// "MILK_PLACE").
struct Location {
    std::string file;
    std::uint32_t line = 0;
    std::uint32_t column = 0;
};

struct Diagnostic {
    DiagnosticCode code;
    std::string message;
    Location where;
    // What is allowed instead, or how to fix it; empty when there is nothing
    // to add.
    std::string note;
};

// A report stops after this many errors (one more, H0099, says so): past
// that, the first ones are what a user needs.
inline constexpr std::size_t max_diagnostics = 20;

// The diagnostic as the user sees it (see the top of this file), ending in a
// newline.
[[nodiscard]] std::string format(const Diagnostic& diagnostic);

}  // namespace milk::host
