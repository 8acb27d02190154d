// Reading and checking the host's config file (milk/host/config.hpp). The
// TOML is parsed by toml++ (header-only, without exceptions, so that milkd
// links statically for the VM); everything after the syntax is checked here,
// reporting every error with its position before anything starts.
#include "config_internal.hpp"

#include <toml++/toml.h>  // Debian ships the header as toml.h

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace milk::host {

namespace {

using config_detail::DiagnosticList;
using config_detail::Draft;

// The keys of an instance table, and the ones reserved for the next
// versions (restart policies, live relocation): rejected rather than
// ignored, so that a config written for a later host does not run here
// without what it asks for.
constexpr std::string_view allowed_keys = "component, placement, settings, restart, restart_limit, spin_us";
constexpr std::string_view reserved_keys[] = {"relocation"};
constexpr std::int64_t max_restart_limit = 1000;
constexpr std::int64_t max_spin_us = 1'000'000;
constexpr std::size_t max_instance_name_bytes = 63;
constexpr std::size_t max_config_bytes = 1024 * 1024;

std::string quoted(std::string_view text) {
    std::string out = "\"";
    out += text;
    out += '"';
    return out;
}

Location location_of(const toml::source_region& source, const std::string& file) {
    return Location{file, static_cast<std::uint32_t>(source.begin.line),
                    static_cast<std::uint32_t>(source.begin.column)};
}

std::string_view type_name(toml::node_type type) {
    switch (type) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
    }
    return "nothing";
}

bool valid_instance_name(std::string_view name) {
    if (name.empty() || name.size() > max_instance_name_bytes) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

// The entries of a table in the order of the file (toml++ keeps them sorted
// by key), so that instances and diagnostics come in the order a user wrote
// them. Two keys of one table never start at the same position, so the order
// is total and std::sort suffices (std::stable_sort would also trip clang 19's
// deprecation warning inside libstdc++ 12, as codegen/frontend.cpp notes).
std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& table) {
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [key, node] : table) entries.emplace_back(&key, &node);
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        const toml::source_position& x = a.first->source().begin;
        const toml::source_position& y = b.first->source().begin;
        return x.line != y.line ? x.line < y.line : x.column < y.column;
    });
    return entries;
}

std::string component_names(std::span<const ComponentType> components) {
    std::string names;
    for (const ComponentType& type : components) {
        if (!names.empty()) names += ", ";
        names += type.name;
    }
    return names;
}

class Reader {
public:
    Reader(std::string file, std::span<const ComponentType> components, DiagnosticList& diagnostics)
        : m_file(std::move(file)), m_components(components), m_diagnostics(diagnostics) {}

    std::vector<Draft> read(const toml::table& root) {
        std::vector<Draft> drafts;
        if (root.empty()) {
            m_diagnostics.add(DiagnosticCode::NoInstances, "the config has no instance", Location{m_file, 0, 0},
                              "an instance is a table: [echo] with component = \"echo\" and placement = "
                              "\"inproc\"");
            return drafts;
        }
        for (auto [key, node] : in_file_order(root)) {
            Location where = location_of(key->source(), m_file);
            const toml::table* table = node->as_table();
            if (table == nullptr) {
                m_diagnostics.add(DiagnosticCode::NotAnInstance,
                                  quoted(key->str()) + " is " + std::string(type_name(node->type())) +
                                      ", not an instance table",
                                  where, "each instance is a table: [" + std::string(key->str()) + "]");
                continue;
            }
            drafts.push_back(read_instance(key->str(), *table, where));
        }
        return drafts;
    }

private:
    Draft read_instance(std::string_view name, const toml::table& table, const Location& where) {
        Draft draft;
        draft.instance.name = std::string(name);
        draft.instance.where = where;
        std::string subject = "instance " + quoted(name);
        if (!valid_instance_name(name)) {
            m_diagnostics.add(DiagnosticCode::BadInstanceName, "bad instance name " + quoted(name), where,
                              "an instance name is 1-63 bytes of a-z, 0-9, _ and -");
        }
        bool has_component = false;
        bool has_placement = false;
        for (auto [key, node] : in_file_order(table)) {
            std::string_view key_name = key->str();
            Location key_where = location_of(key->source(), m_file);
            if (key_name == "component") {
                has_component = true;
                read_component(subject, *node, draft);
            } else if (key_name == "placement") {
                has_placement = true;
                read_placement(subject, *node, draft);
            } else if (key_name == "settings") {
                read_settings(subject, *node, draft);
            } else if (key_name == "restart") {
                read_restart(subject, *node, draft);
            } else if (key_name == "restart_limit") {
                read_restart_limit(subject, *node, draft);
            } else if (key_name == "spin_us") {
                read_spin(subject, *node, draft);
            } else if (std::find(std::begin(reserved_keys), std::end(reserved_keys), key_name) !=
                       std::end(reserved_keys)) {
                m_diagnostics.add(DiagnosticCode::ReservedKey,
                                  subject + ": key " + quoted(key_name) + " is reserved for a later version of milk",
                                  key_where, "this host supports: " + std::string(allowed_keys));
            } else {
                m_diagnostics.add(DiagnosticCode::UnknownKey, subject + ": unknown key " + quoted(key_name),
                                  key_where, "allowed keys: " + std::string(allowed_keys));
            }
        }
        if (!has_component) {
            m_diagnostics.add(DiagnosticCode::MissingKey, subject + " has no \"component\"", where,
                              "compiled into this host: " + component_list());
        }
        if (!has_placement) {
            m_diagnostics.add(DiagnosticCode::MissingKey, subject + " has no \"placement\"", where,
                              "allowed: " + config_detail::placement_list(every_placement));
        }
        if (draft.type != nullptr) check_setting_names(subject, draft);
        return draft;
    }

    // Every setting must be one the component reads: a misspelt name would
    // otherwise fall back to the component's default without a word.
    void check_setting_names(const std::string& subject, const Draft& draft) {
        const SettingNames& known = draft.type->setting_names;
        std::string names;
        for (std::size_t i = 0; i < known.size(); ++i) names += (i == 0 ? "" : ", ") + std::string(known[i]);
        for (const Draft::SettingKey& key : draft.setting_keys) {
            if (!known.contains(key.name)) {
                m_diagnostics.add(DiagnosticCode::UnknownSetting,
                                  subject + ": component " + quoted(draft.type->name) + " has no setting " +
                                      quoted(key.name),
                                  key.key,
                                  names.empty() ? "component " + quoted(draft.type->name) + " reads no settings"
                                                : "component " + quoted(draft.type->name) + " reads: " + names);
                continue;
            }
            // The value must be of the kind the component reads.
            const bool wants_text = draft.type->text_setting_names.contains(key.name);
            const bool is_text = draft.instance.settings.find_text(key.name).has_value();
            if (wants_text == is_text) continue;
            m_diagnostics.add(DiagnosticCode::BadSettingValue,
                              subject + ": setting " + quoted(key.name) + " must be " +
                                  (wants_text ? "a string, not an integer" : "an integer, not a string"),
                              key.value,
                              "component " + quoted(draft.type->name) + " reads " + quoted(key.name) +
                                  (wants_text ? " as text" : " as a 64-bit signed integer"));
        }
    }

    std::string component_list() const {
        std::string names = component_names(m_components);
        return names.empty() ? "none" : names;
    }

    // The string value of `node`, or a WrongType diagnostic.
    const std::string* expect_string(const std::string& subject, std::string_view key, const toml::node& node) {
        if (const toml::value<std::string>* value = node.as_string(); value != nullptr) return &value->get();
        m_diagnostics.add(DiagnosticCode::WrongType,
                          subject + ": " + quoted(key) + " must be a string, not " +
                              std::string(type_name(node.type())),
                          location_of(node.source(), m_file));
        return nullptr;
    }

    void read_component(const std::string& subject, const toml::node& node, Draft& draft) {
        const std::string* name = expect_string(subject, "component", node);
        if (name == nullptr) return;
        draft.instance.component = *name;
        draft.type = find_component(m_components, *name);
        if (draft.type == nullptr) {
            m_diagnostics.add(DiagnosticCode::UnknownComponent, subject + ": unknown component " + quoted(*name),
                              location_of(node.source(), m_file), "compiled into this host: " + component_list());
        }
    }

    void read_placement(const std::string& subject, const toml::node& node, Draft& draft) {
        const std::string* word = expect_string(subject, "placement", node);
        if (word == nullptr) return;
        std::optional<Placement> placement = parse_placement(*word);
        if (!placement) {
            m_diagnostics.add(DiagnosticCode::UnknownPlacement, subject + ": unknown placement " + quoted(*word),
                              location_of(node.source(), m_file),
                              "allowed: " + config_detail::placement_list(every_placement));
            return;
        }
        draft.instance.placement = *placement;
        draft.instance.placement_source = PlacementSource::File;
        draft.placement_where = location_of(node.source(), m_file);
        draft.has_placement = true;
    }

    void read_restart(const std::string& subject, const toml::node& node, Draft& draft) {
        const std::string* word = expect_string(subject, "restart", node);
        if (word == nullptr) return;
        if (*word == "never") {
            draft.instance.restart = RestartPolicy::Never;
        } else if (*word == "on-failure") {
            draft.instance.restart = RestartPolicy::OnFailure;
        } else {
            m_diagnostics.add(DiagnosticCode::UnknownRestartPolicy, subject + ": unknown restart policy " + quoted(*word),
                              location_of(node.source(), m_file), "allowed: never, on-failure");
        }
    }

    void read_restart_limit(const std::string& subject, const toml::node& node, Draft& draft) {
        const toml::value<std::int64_t>* integer = node.as_integer();
        if (integer == nullptr || integer->get() < 1 || integer->get() > max_restart_limit) {
            m_diagnostics.add(DiagnosticCode::BadRestartLimit,
                              subject + ": \"restart_limit\" must be an integer from 1 to " +
                                  std::to_string(max_restart_limit),
                              location_of(node.source(), m_file),
                              "the most restarts in any minute; past it the instance stays dead");
            return;
        }
        draft.instance.restart_limit = static_cast<std::uint32_t>(integer->get());
    }

    void read_spin(const std::string& subject, const toml::node& node, Draft& draft) {
        const toml::value<std::int64_t>* integer = node.as_integer();
        if (integer == nullptr || integer->get() < 0 || integer->get() > max_spin_us) {
            m_diagnostics.add(DiagnosticCode::BadSpin,
                              subject + ": \"spin_us\" must be an integer from 0 to " + std::to_string(max_spin_us),
                              location_of(node.source(), m_file),
                              "microseconds the component's end spins for a message before it sleeps");
            return;
        }
        draft.instance.spin = std::chrono::microseconds(integer->get());
    }

    void read_settings(const std::string& subject, const toml::node& node, Draft& draft) {
        const toml::table* table = node.as_table();
        if (table == nullptr) {
            m_diagnostics.add(DiagnosticCode::WrongType,
                              subject + ": \"settings\" must be a table, not " + std::string(type_name(node.type())),
                              location_of(node.source(), m_file),
                              "settings are named integers or strings: [" + draft.instance.name + ".settings] with limit = 10");
            return;
        }
        std::size_t count = 0;
        for (auto [key, value] : in_file_order(*table)) {
            std::string_view name = key->str();
            Location where = location_of(key->source(), m_file);
            if (!Settings::valid_name(name)) {
                m_diagnostics.add(DiagnosticCode::BadSettingName, subject + ": bad setting name " + quoted(name),
                                  where, "a setting's name is 1-23 bytes of a-z, 0-9 and _");
                continue;
            }
            const toml::value<std::int64_t>* integer = value->as_integer();
            const toml::value<std::string>* text = value->as_string();
            if (integer == nullptr && text == nullptr) {
                m_diagnostics.add(DiagnosticCode::BadSettingValue,
                                  subject + ": setting " + quoted(name) + " must be an integer or a string, not " +
                                      std::string(type_name(value->type())),
                                  location_of(value->source(), m_file),
                                  "settings are 64-bit signed integers, or strings for user-space components");
                continue;
            }
            if (++count > Settings::max_entries) {
                // Reported once, at the first setting that does not fit.
                if (count == Settings::max_entries + 1) {
                    // One error for the table is enough: no component reads
                    // more than 8 settings, so some are also unknown (H0018).
                    draft.setting_keys.clear();
                    m_diagnostics.add(DiagnosticCode::TooManySettings,
                                      subject + ": more than " + std::to_string(Settings::max_entries) + " settings",
                                      where,
                                      "a component gets at most " + std::to_string(Settings::max_entries) +
                                          " settings");
                }
                continue;
            }
            // The name was checked and the table has room, so this fails only
            // if Settings' own rules change without this reader.
            if (text != nullptr) {
                auto stored = draft.instance.settings.set_text(name, text->get());
                if (!stored.ok()) {
                    m_diagnostics.add(DiagnosticCode::BadSettingValue,
                                      subject + ": setting " + quoted(name) + ": " + std::string(stored.error().what),
                                      location_of(value->source(), m_file),
                                      "a text setting holds no NUL byte, and an instance's texts fit in " +
                                          std::to_string(Settings::max_text_bytes - 1) + " bytes");
                    continue;
                }
            } else if (!draft.instance.settings.set(name, integer->get()).ok()) {
                m_diagnostics.add(DiagnosticCode::BadSettingName, subject + ": bad setting name " + quoted(name),
                                  where, "a setting's name is 1-23 bytes of a-z, 0-9 and _");
                continue;
            }
            draft.setting_keys.push_back({std::string(name), where, location_of(value->source(), m_file)});
        }
    }

    std::string m_file;
    std::span<const ComponentType> m_components;
    DiagnosticList& m_diagnostics;
};

// The checks that need the final placement: the component supports it, and
// for `kernel`, milk.ko is loaded and has the component.
void check_placements(std::vector<Draft>& drafts, const KernelProbe& kernel, DiagnosticList& diagnostics) {
    for (const Draft& draft : drafts) {
        if (!draft.has_placement || draft.type == nullptr) continue;
        const InstanceConfig& instance = draft.instance;
        std::string subject = "instance " + quoted(instance.name);
        std::string placement = quoted(placement_name(instance.placement));
        std::string from = instance.placement_source == PlacementSource::File
                               ? std::string()
                               : " (from " + std::string(placement_source_name(instance.placement_source)) + ")";
        if (!draft.type->placements.contains(instance.placement)) {
            diagnostics.add(DiagnosticCode::UnsupportedPlacement,
                            subject + ": component " + quoted(instance.component) + " does not support placement " +
                                placement + from,
                            draft.placement_where,
                            "component " + quoted(instance.component) +
                                " supports: " + config_detail::placement_list(draft.type->placements));
            continue;
        }
        if (instance.placement != Placement::Kernel) continue;
        // What the note offers instead: the component's other placements.
        std::string elsewhere = config_detail::placement_list(draft.type->placements, Placement::Kernel);
        KernelAvailability availability =
            kernel.query ? kernel.query(instance.component) : KernelAvailability::NotLoaded;
        if (availability == KernelAvailability::NotLoaded) {
            diagnostics.add(DiagnosticCode::KernelNotLoaded,
                            subject + ": placement \"kernel\"" + from + " but milk.ko is not loaded",
                            draft.placement_where,
                            "load milk.ko (docs/kernel.md), or choose another placement: " +
                                elsewhere);
        } else if (availability == KernelAvailability::Missing) {
            diagnostics.add(DiagnosticCode::KernelLacksComponent,
                            subject + ": placement \"kernel\"" + from + " but milk.ko has no component " +
                                quoted(instance.component),
                            draft.placement_where,
                            "build milk.ko with the component (components/CMakeLists.txt), or choose another "
                            "placement: " + elsewhere);
        }
    }
}

// toml++ reports a second [name] table as "Error while parsing table
// header: cannot redefine existing table 'name'". For a top-level name that
// is a duplicate instance, which is how the user should hear it.
std::optional<std::string> duplicate_instance_name(std::string_view description) {
    constexpr std::string_view marker = "cannot redefine existing table '";
    std::size_t at = description.find(marker);
    if (at == std::string_view::npos || !description.ends_with('\'')) return std::nullopt;
    std::string_view name = description.substr(at + marker.size());
    name.remove_suffix(1);
    if (name.empty() || name.find_first_of(".'\"") != std::string_view::npos) return std::nullopt;
    return std::string(name);
}

}  // namespace

LoadResult parse_config(std::string_view text, std::string file_name, std::span<const ComponentType> components,
                        const Overrides& overrides, const KernelProbe& kernel) {
    DiagnosticList diagnostics;
    toml::parse_result parsed = toml::parse(text, std::string_view(file_name));
    if (!parsed) {
        const toml::parse_error& error = parsed.error();
        Location where = location_of(error.source(), file_name);
        if (std::optional<std::string> name = duplicate_instance_name(error.description())) {
            diagnostics.add(DiagnosticCode::DuplicateInstance, "duplicate instance " + quoted(*name), where,
                            "an instance is one table; rename one of the two [" + *name + "] tables");
        } else {
            diagnostics.add(DiagnosticCode::SyntaxError, "TOML: " + std::string(error.description()), where);
        }
        return LoadResult{std::nullopt, diagnostics.take()};
    }

    Reader reader(file_name, components, diagnostics);
    std::vector<Draft> drafts = reader.read(parsed.table());
    std::vector<config_detail::PlacementOverride> parsed_overrides = config_detail::parse_overrides(overrides, diagnostics);
    config_detail::apply_overrides(parsed_overrides, drafts, diagnostics);
    check_placements(drafts, kernel, diagnostics);

    if (!diagnostics.empty()) return LoadResult{std::nullopt, diagnostics.take()};
    Config config{std::move(file_name), {}};
    for (Draft& draft : drafts) config.instances.push_back(std::move(draft.instance));
    return LoadResult{std::move(config), {}};
}

LoadResult load_config(const std::string& path, std::span<const ComponentType> components, const Overrides& overrides,
                       const KernelProbe& kernel) {
    // open/read rather than ifstream: errno names the reason for the user,
    // and a directory fails here (EISDIR) rather than reading as empty.
    std::string text;
    int error = 0;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = errno;
    } else {
        char buffer[65536];
        while (true) {
            ssize_t count = ::read(fd, buffer, sizeof buffer);
            if (count > 0) {
                text.append(buffer, static_cast<std::size_t>(count));
                // A config is a few lines; this bounds what a path to a
                // device or an endless pipe can make the host read.
                if (text.size() > max_config_bytes) {
                    error = EFBIG;
                    break;
                }
            } else if (count == 0) {
                break;
            } else if (errno != EINTR) {
                error = errno;
                break;
            }
        }
        ::close(fd);
    }
    if (error != 0) {
        return LoadResult{std::nullopt,
                          {Diagnostic{DiagnosticCode::UnreadableFile,
                                      "cannot read the config: " + std::string(std::strerror(error)),
                                      Location{path, 0, 0}, {}}}};
    }
    return parse_config(text, path, components, overrides, kernel);
}

}  // namespace milk::host
