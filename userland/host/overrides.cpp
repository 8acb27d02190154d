// Placement overrides: `--place INSTANCE=PLACEMENT` flags and the MILK_PLACE
// environment variable, applied over the file in the order of precedence
// flag > environment > file.
#include "config_internal.hpp"

#include <cstdlib>
#include <map>

namespace milk::host {

std::string_view placement_source_name(PlacementSource source) {
    switch (source) {
    case PlacementSource::File: return "file";
    case PlacementSource::Environment: return "MILK_PLACE";
    case PlacementSource::Flag: return "--place";
    }
    return "unknown";
}

std::string_view restart_policy_name(RestartPolicy policy) {
    switch (policy) {
    case RestartPolicy::Never: return "never";
    case RestartPolicy::OnFailure: return "on-failure";
    }
    return "unknown";
}

Overrides overrides_from_environment(std::vector<std::string> flags) {
    Overrides overrides{std::move(flags), std::nullopt};
    if (const char* value = std::getenv(place_environment_variable); value != nullptr)
        overrides.environment = value;
    return overrides;
}

namespace config_detail {

namespace {

std::string_view trim(std::string_view text) {
    constexpr std::string_view blanks = " \t";
    std::size_t first = text.find_first_not_of(blanks);
    if (first == std::string_view::npos) return {};
    std::size_t last = text.find_last_not_of(blanks);
    return text.substr(first, last - first + 1);
}

void quote_into(std::string& out, std::string_view text) {
    out += '"';
    out += text;
    out += '"';
}

std::string quoted(std::string_view text) {
    std::string out;
    quote_into(out, text);
    return out;
}

// Parses the entries of one source; `seen` catches an instance placed twice.
void parse_entries(std::span<const std::string_view> entries, PlacementSource source,
                   std::vector<PlacementOverride>& out, DiagnosticList& diagnostics) {
    Location where{std::string(placement_source_name(source)), 0, 0};
    std::map<std::string, Placement, std::less<>> seen;
    for (std::string_view entry : entries) {
        std::size_t equals = entry.find('=');
        std::string_view instance = equals == std::string_view::npos ? std::string_view{} : trim(entry.substr(0, equals));
        std::string_view word = equals == std::string_view::npos ? std::string_view{} : trim(entry.substr(equals + 1));
        if (instance.empty() || word.empty()) {
            diagnostics.add(DiagnosticCode::MalformedOverride,
                            "malformed override " + quoted(entry) + ": expected INSTANCE=PLACEMENT", where,
                            source == PlacementSource::Flag ? "one --place per instance, e.g. --place echo=kernel"
                                                            : "e.g. MILK_PLACE=echo=kernel,files=process");
            continue;
        }
        std::optional<Placement> placement = parse_placement(word);
        if (!placement) {
            diagnostics.add(DiagnosticCode::UnknownPlacement,
                            "override " + quoted(entry) + ": unknown placement " + quoted(word), where,
                            "allowed: " + placement_list(every_placement));
            continue;
        }
        auto [it, inserted] = seen.try_emplace(std::string(instance), *placement);
        if (!inserted) {
            // The same answer twice is harmless; two answers are a mistake
            // that no order of precedence should hide.
            if (it->second != *placement) {
                diagnostics.add(DiagnosticCode::ConflictingOverride,
                                "instance " + quoted(instance) + " is placed twice: " +
                                    quoted(placement_name(it->second)) + " and " + quoted(word),
                                where, "give one placement per instance");
            }
            continue;
        }
        out.push_back(PlacementOverride{std::string(instance), *placement, source});
    }
}

}  // namespace

std::string placement_list(PlacementSet set, std::optional<Placement> except) {
    std::string out;
    for (Placement placement : {Placement::Inproc, Placement::Process, Placement::Kernel}) {
        if (!set.contains(placement) || placement == except) continue;
        if (!out.empty()) out += ", ";
        out += placement_name(placement);
    }
    return out.empty() ? "none" : out;
}

std::vector<PlacementOverride> parse_overrides(const Overrides& overrides, DiagnosticList& diagnostics) {
    std::vector<PlacementOverride> out;
    if (overrides.environment && !overrides.environment->empty()) {
        std::vector<std::string_view> entries;
        std::string_view rest = *overrides.environment;
        while (true) {
            std::size_t comma = rest.find(',');
            entries.push_back(rest.substr(0, comma));
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
        parse_entries(entries, PlacementSource::Environment, out, diagnostics);
    }
    std::vector<std::string_view> flags(overrides.flags.begin(), overrides.flags.end());
    parse_entries(flags, PlacementSource::Flag, out, diagnostics);
    return out;
}

void apply_overrides(std::span<const PlacementOverride> overrides, std::vector<Draft>& drafts,
                     DiagnosticList& diagnostics) {
    for (const PlacementOverride& entry : overrides) {
        Location where{std::string(placement_source_name(entry.source)), 0, 0};
        Draft* target = nullptr;
        for (Draft& draft : drafts)
            if (draft.instance.name == entry.instance) target = &draft;
        if (target == nullptr) {
            std::string names;
            for (const Draft& draft : drafts) {
                if (!names.empty()) names += ", ";
                names += draft.instance.name;
            }
            diagnostics.add(DiagnosticCode::OverrideUnknownInstance,
                            "override of " + quoted(entry.instance) + ": the config has no such instance", where,
                            "instances: " + (names.empty() ? std::string("none") : names));
            continue;
        }
        // Environment entries come first, so a flag for the same instance
        // replaces them: flag > environment > file.
        target->instance.placement = entry.placement;
        target->instance.placement_source = entry.source;
        target->placement_where = where;
        target->has_placement = true;
    }
}

}  // namespace config_detail

}  // namespace milk::host
