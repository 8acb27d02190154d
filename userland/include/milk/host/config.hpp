// The host's config: which component instances a host runs, where, and with
// which settings. A TOML file (docs/components.md, "The config file"):
//
//     [echo]                      # the instance's name: a table per instance
//     component = "echo"          # a component compiled into this host
//     placement = "process"       # inproc | process | kernel
//     [echo.settings]             # optional: named integers for the component
//     limit = 1000
//
// overridden per instance by `--place INSTANCE=PLACEMENT` flags and the
// MILK_PLACE environment variable (`echo=kernel,files=process`), in the
// order of precedence flag > environment > file.
//
// Loading checks everything a host needs to know before it starts anything:
// every key and value, that each component is compiled into this host and
// supports its placement, and, for `kernel`, that milk.ko is loaded and has
// the component. Any error means no Config at all (a host starts nothing),
// and every error found is reported (up to max_diagnostics), never a silent
// fall back to another placement.
#pragma once

#include <milk/component.hpp>
#include <milk/host/component_type.hpp>
#include <milk/host/config_diagnostic.hpp>
#include <milk/host/kernel_probe.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace milk::host {

// Where an instance's placement came from (the strongest source wins).
enum class PlacementSource : std::uint8_t { File, Environment, Flag };

// "file", "MILK_PLACE", "--place": how diagnostics and `milkd --check` name it.
[[nodiscard]] std::string_view placement_source_name(PlacementSource source);

// What the host does when an instance's process dies (docs/relocation.md,
// "Restart").
enum class RestartPolicy : std::uint8_t {
    // It stays dead; its clients get PeerClosed.
    Never,
    // A new process takes its place, at most `restart_limit` times in any
    // minute.
    OnFailure,
};
[[nodiscard]] std::string_view restart_policy_name(RestartPolicy policy);

struct InstanceConfig {
    std::string name;
    // A component compiled into this host (find_component finds it).
    std::string component;
    // Where it runs, after the overrides.
    milk::Placement placement = milk::Placement::Inproc;
    milk::Settings settings;
    // The instance's table header in the file.
    Location where;
    // Where `placement` came from.
    PlacementSource placement_source = PlacementSource::File;
    // `restart` and `restart_limit`: they matter where the instance has a
    // process of its own (`process`).
    RestartPolicy restart = RestartPolicy::Never;
    std::uint32_t restart_limit = 5;
    // `spin_us`: how long the component's end of each channel spins for the
    // next message before it sleeps (inproc and process; a kernel instance
    // has its own serving modes). Longer than the gap between a client's
    // messages, it saves the component's thread a wake-up per message.
    std::chrono::microseconds spin{10};
};

struct Config {
    std::string file;
    // In the order of the file.
    std::vector<InstanceConfig> instances;
};

// The environment variable that overrides placements.
inline constexpr const char* place_environment_variable = "MILK_PLACE";

struct Overrides {
    // The values of `--place`, each "INSTANCE=PLACEMENT", in command-line
    // order.
    std::vector<std::string> flags;
    // MILK_PLACE's value, "INSTANCE=PLACEMENT[,INSTANCE=PLACEMENT...]", when
    // it is set (an empty value overrides nothing).
    std::optional<std::string> environment;
};

// `flags`, and MILK_PLACE from this process's environment.
[[nodiscard]] Overrides overrides_from_environment(std::vector<std::string> flags);

struct LoadResult {
    // Only when there is no diagnostic.
    std::optional<Config> config;
    std::vector<Diagnostic> diagnostics;
};

// Reads and checks the config file at `path` against the components
// compiled into this host, applies the overrides, and asks `kernel` about
// every instance placed in the kernel.
[[nodiscard]] LoadResult load_config(const std::string& path, std::span<const ComponentType> components,
                                     const Overrides& overrides, const KernelProbe& kernel);

// The same for a config given as text; `file_name` is what diagnostics call
// it.
[[nodiscard]] LoadResult parse_config(std::string_view text, std::string file_name,
                                      std::span<const ComponentType> components, const Overrides& overrides,
                                      const KernelProbe& kernel);

}  // namespace milk::host
