// What config.cpp and overrides.cpp share: the list diagnostics are
// collected in, and the overrides as parsed.
#pragma once

#include <milk/host/config.hpp>

#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace milk::host::config_detail {

// Collects diagnostics up to max_diagnostics, then adds one H0099 and drops
// the rest.
class DiagnosticList {
public:
    void add(DiagnosticCode code, std::string message, Location where, std::string note = {});
    [[nodiscard]] bool empty() const { return m_diagnostics.empty(); }
    [[nodiscard]] std::vector<Diagnostic> take() { return std::move(m_diagnostics); }

private:
    std::vector<Diagnostic> m_diagnostics;
    bool m_capped = false;
};

// One instance as read from the file, before the overrides and the checks
// that need its final placement.
struct Draft {
    InstanceConfig instance;
    // Whether the file gave a placement this host knows (else it has already
    // been reported, and the later checks skip the instance).
    bool has_placement = false;
    // Where the final placement was said: the value in the file, or the
    // override's source.
    Location placement_where;
    // The component, when the file names one compiled into this host.
    const ComponentType* type = nullptr;
    // Each setting the file gave, with where its name stands: checked
    // against the component's declared names once both are known (the keys
    // of an instance table come in any order).
    // Each setting's name, where its key is and where its value is.
    struct SettingKey {
        std::string name;
        Location key;
        Location value;
    };
    std::vector<SettingKey> setting_keys;
};

// One "INSTANCE=PLACEMENT" that parsed.
struct PlacementOverride {
    std::string instance;
    Placement placement;
    PlacementSource source;
};

// The overrides of both sources, environment first, so that applying them
// in order lets a flag win. Malformed entries, unknown placements and an
// instance placed twice (differently) by one source are reported.
[[nodiscard]] std::vector<PlacementOverride> parse_overrides(const Overrides& overrides, DiagnosticList& diagnostics);

// Applies `overrides` to the instances of the file; an override that names
// no instance is reported.
void apply_overrides(std::span<const PlacementOverride> overrides, std::vector<Draft>& drafts,
                     DiagnosticList& diagnostics);

// "inproc, process, kernel" for the placements of `set`, leaving out
// `except`; "none" when that leaves nothing.
[[nodiscard]] std::string placement_list(PlacementSet set, std::optional<Placement> except = std::nullopt);

}  // namespace milk::host::config_detail
