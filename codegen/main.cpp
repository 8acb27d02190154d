// milkc: the contract compiler's command line.
//
//   milkc FILE.contract... --out DIR [--emit cpp,kernel,dot,promela]
//   milkc --check FILE.contract...
//   milkc --compat OLD.contract NEW.contract
//   milkc --emit kernel-registry --component NAME=TYPE=HEADER=CONTRACT... --out DIR
//
// The last form writes milk.ko's registry of components (milk_components.cpp,
// milk_components.kbuild, milk_kstub_common.h; emit_kernel_registry.cpp):
// NAME is what a client opens ([a-z][a-z0-9_]*, at most 31 bytes), TYPE the
// component's C++ type, HEADER its header relative to components/, CONTRACT
// the contract file it serves (holding exactly one contract, or a base and
// the one contract that extends it last: the one no other extends).
//
// Every file is checked (syntax, the semantic checks, the model check) before
// anything is written, and when any file has an error nothing is written at
// all: a build never sees half of a contract's outputs. Exit status: 0 when
// all is well, 1 on any error in a contract or on I/O, 2 on a bad command line.
#include "compat.hpp"
#include "cut_points.hpp"
#include "emit.hpp"
#include "frontend.hpp"
#include "identity.hpp"
#include "model_check.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#ifndef MILKC_VERSION
#error "MILKC_VERSION must be defined by the build"
#endif

namespace {

namespace fs = std::filesystem;

constexpr int exit_ok = 0;
constexpr int exit_error = 1;
constexpr int exit_usage = 2;

struct Emitter {
    std::string_view name;       // as given to --emit
    std::string_view extension;  // of the output file
    std::string (*emit)(const milkc::File&, const milkc::EmitContext&);
};

const Emitter emitters[] = {
    {"cpp", ".hpp", milkc::emit_cpp},
    {"kernel", ".kstub.h", milkc::emit_kernel},
    {"dot", ".dot", milkc::emit_dot},
    {"promela", ".pml", milkc::emit_promela},
};

const Emitter* find_emitter(std::string_view name) {
    for (const Emitter& emitter : emitters) {
        if (emitter.name == name) return &emitter;
    }
    return nullptr;
}

void print_error(const std::string& message) { std::cerr << "milkc: error: " << message << '\n'; }

std::optional<std::string> read_file(const std::string& path) {
    // fopen rather than ifstream: its errno names the reason for the user.
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        print_error("cannot read '" + path + "': " + std::strerror(errno));
        return std::nullopt;
    }
    std::string text;
    char buffer[65536];
    std::size_t count = 0;
    while ((count = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, count);
    bool failed = std::ferror(file) != 0;
    int error = errno;
    std::fclose(file);
    if (failed) {
        print_error("cannot read '" + path + "': " + std::strerror(error));
        return std::nullopt;
    }
    return text;
}

// One contract file that passed every check.
struct Checked {
    std::string path;
    milkc::File file;
};

// Lexes, parses, checks and model-checks one file. Diagnostics go to stderr;
// with `summary`, one line per contract goes to stdout.
std::optional<milkc::File> check_file(const std::string& path, bool summary) {
    std::optional<std::string> text = read_file(path);
    if (!text) return std::nullopt;
    milkc::SourceFile source(path, std::move(*text));
    milkc::DiagnosticSink sink(source);
    std::optional<milkc::File> file = milkc::parse_and_check(source, sink, milkc::explain_mixed_states);
    if (file) {
        for (const milkc::ContractDecl& contract : file->contracts) {
            milkc::ModelCheckReport report = milkc::model_check(contract, sink);
            if (summary) {
                std::cout << path << ": contract " << contract.name << ": " << report.states << " states, "
                          << report.transitions << " transitions, " << report.configurations
                          << " configurations explored: " << (report.ok ? "ok" : "failed") << '\n';
                std::cout << path << ": contract " << contract.name << ": identity "
                          << milkc::identity_string(milkc::contract_identity(*file, contract)) << '\n';
                // Where the contract lets a component be moved or restarted.
                std::cout << path << ": contract " << contract.name << ": cut points (the server owes nothing):";
                const std::vector<const milkc::StateDecl*> points = milkc::cut_points(contract);
                if (points.empty()) std::cout << " none";
                for (std::size_t i = 0; i < points.size(); ++i) std::cout << (i == 0 ? " " : ", ") << points[i]->name;
                std::cout << '\n';
            }
        }
    }
    std::cerr << sink.render();
    if (sink.has_errors()) return std::nullopt;
    return file;
}

struct Output {
    fs::path path;
    fs::path temporary;
    std::string text;
};

bool write_temporary(const Output& output) {
    std::ofstream stream(output.temporary, std::ios::binary | std::ios::trunc);
    if (!stream) {
        print_error("cannot write '" + output.temporary.string() + "': " + std::strerror(errno));
        return false;
    }
    stream.write(output.text.data(), static_cast<std::streamsize>(output.text.size()));
    stream.close();
    if (!stream) {
        print_error("cannot write '" + output.temporary.string() + "': " + std::strerror(errno));
        return false;
    }
    return true;
}

// Writes every output through a temporary file in the same directory and
// renames it into place, so that a reader sees either the old or the new
// file, never a torn one. Temporaries are all written before the first
// rename: a full disk then leaves the old outputs untouched.
int write_outputs(std::vector<Output>& outputs) {
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (write_temporary(outputs[i])) continue;
        std::error_code ignored;
        for (std::size_t j = 0; j <= i; ++j) fs::remove(outputs[j].temporary, ignored);
        return exit_error;
    }
    for (const Output& output : outputs) {
        std::error_code error;
        fs::rename(output.temporary, output.path, error);
        if (error) {
            print_error("cannot write '" + output.path.string() + "': " + error.message());
            std::error_code ignored;
            for (const Output& other : outputs) fs::remove(other.temporary, ignored);
            return exit_error;
        }
    }
    return exit_ok;
}

int run(const std::vector<std::string>& files, bool check_only, const std::string& out_dir,
        const std::vector<std::string>& emit_names) {
    std::vector<const Emitter*> selected;
    for (const std::string& name : emit_names) {
        const Emitter* emitter = find_emitter(name);
        if (std::find(selected.begin(), selected.end(), emitter) == selected.end()) selected.push_back(emitter);
    }

    // Two inputs with one base name would write the same outputs.
    std::map<std::string, std::string> stems;
    for (const std::string& path : files) {
        std::string stem = fs::path(path).stem().string();
        auto [previous, inserted] = stems.emplace(stem, path);
        if (!inserted && !check_only) {
            print_error("'" + previous->second + "' and '" + path + "' would write the same output files ('" + stem +
                        ".*')");
            return exit_usage;
        }
    }

    bool failed = false;
    std::vector<Checked> checked;
    for (const std::string& path : files) {
        std::optional<milkc::File> file = check_file(path, check_only);
        if (!file) {
            failed = true;
            continue;
        }
        checked.push_back({path, std::move(*file)});
    }
    if (failed) return exit_error;
    if (check_only) return exit_ok;

    std::error_code error;
    fs::create_directories(out_dir, error);
    if (error) {
        print_error("cannot create directory '" + out_dir + "': " + error.message());
        return exit_error;
    }
    std::vector<Output> outputs;
    std::string temporary_suffix = ".tmp." + std::to_string(::getpid());
    for (const Checked& item : checked) {
        milkc::EmitContext context;
        context.source_name = fs::path(item.path).filename().string();
        context.milkc_version = MILKC_VERSION;
        std::string stem = fs::path(item.path).stem().string();
        for (const Emitter* emitter : selected) {
            Output output;
            output.path = fs::path(out_dir) / (stem + std::string(emitter->extension));
            output.temporary = output.path;
            output.temporary += temporary_suffix;
            output.text = emitter->emit(item.file, context);
            outputs.push_back(std::move(output));
        }
    }
    return write_outputs(outputs);
}

bool valid_component_name(const std::string& name) {
    if (name.empty() || name.size() > 31 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// milkc --emit kernel-registry: every component's contract is checked as
// any contract is, and nothing is written unless all are well.
// The contract a component's file serves: its only contract, or the one
// contract no other of the file extends (a file may hold a base and its
// extension: contract Registry extends Directory). Null when there is not
// exactly one. The generated registry's static_assert on the component's
// Contract::version catches a component that serves another.
const milkc::ContractDecl* served_contract(const milkc::File& file) {
    const milkc::ContractDecl* served = nullptr;
    for (const milkc::ContractDecl& contract : file.contracts) {
        bool extended = false;
        for (const milkc::ContractDecl& other : file.contracts) extended = extended || other.base == contract.name;
        if (extended) continue;
        if (served != nullptr) return nullptr;
        served = &contract;
    }
    return served;
}

int run_kernel_registry(const std::vector<std::string>& specs, const std::string& out_dir) {
    struct Spec {
        std::string name, type, header, contract_path;
    };
    std::vector<Spec> parsed;
    for (const std::string& spec : specs) {
        std::vector<std::string> parts;
        std::size_t start = 0;
        for (;;) {
            const std::size_t equals = spec.find('=', start);
            parts.push_back(spec.substr(start, equals == std::string::npos ? std::string::npos : equals - start));
            if (equals == std::string::npos) break;
            start = equals + 1;
        }
        if (parts.size() != 4 || std::any_of(parts.begin(), parts.end(), [](const std::string& p) { return p.empty(); })) {
            print_error("--component '" + spec + "': expected NAME=TYPE=HEADER=CONTRACT");
            return exit_usage;
        }
        if (!valid_component_name(parts[0])) {
            print_error("--component '" + spec + "': a component's name is [a-z][a-z0-9_]*, at most 31 bytes");
            return exit_usage;
        }
        if (parts[2].front() == '/' || parts[2].find("..") != std::string::npos) {
            print_error("--component '" + spec + "': HEADER must be relative to components/ and stay inside it");
            return exit_usage;
        }
        for (const Spec& other : parsed) {
            if (other.name == parts[0]) {
                print_error("--component '" + spec + "': the component '" + parts[0] + "' is named twice");
                return exit_usage;
            }
        }
        parsed.push_back({parts[0], parts[1], parts[2], parts[3]});
    }

    // Each contract file once, checked before anything is written.
    std::map<std::string, milkc::File> files;
    bool failed = false;
    for (const Spec& spec : parsed) {
        if (files.count(spec.contract_path) != 0) continue;
        std::optional<milkc::File> file = check_file(spec.contract_path, false);
        if (!file) {
            failed = true;
            continue;
        }
        if (served_contract(*file) == nullptr) {
            print_error("'" + spec.contract_path + "' holds " + std::to_string(file->contracts.size()) +
                        " contracts; a component's contract file must hold exactly one that no other of the file "
                        "extends (the one the component serves)");
            failed = true;
            continue;
        }
        files.emplace(spec.contract_path, std::move(*file));
    }
    if (failed) return exit_error;

    std::vector<milkc::KernelComponent> components;
    for (const Spec& spec : parsed) {
        const milkc::File& file = files.at(spec.contract_path);
        components.push_back({spec.name, spec.type, spec.header, fs::path(spec.contract_path).stem().string(), &file,
                              served_contract(file)});
    }

    std::error_code error;
    fs::create_directories(out_dir, error);
    if (error) {
        print_error("cannot create directory '" + out_dir + "': " + error.message());
        return exit_error;
    }
    milkc::EmitContext context;
    context.source_name = "the --component list";
    context.milkc_version = MILKC_VERSION;
    const std::string temporary_suffix = ".tmp." + std::to_string(::getpid());
    std::vector<Output> outputs;
    auto add = [&](const std::string& name, std::string text) {
        Output output;
        output.path = fs::path(out_dir) / name;
        output.temporary = output.path;
        output.temporary += temporary_suffix;
        output.text = std::move(text);
        outputs.push_back(std::move(output));
    };
    add("milk_components.cpp", milkc::emit_kernel_registry(components, context));
    add("milk_components.kbuild", milkc::emit_kernel_registry_kbuild(components, context));
    add("milk_kstub_common.h", milkc::emit_kernel_common(context));
    return write_outputs(outputs);
}

// milkc --compat OLD NEW: both files must pass every check; then NEW is
// judged against OLD (compat.hpp). One line per contract on stdout when it
// may evolve so, the diagnostics on stderr when not.
int run_compat(const std::string& old_path, const std::string& new_path) {
    std::optional<std::string> old_text = read_file(old_path);
    std::optional<std::string> new_text = read_file(new_path);
    if (!old_text || !new_text) return exit_error;
    milkc::SourceFile old_source(old_path, std::move(*old_text));
    milkc::SourceFile new_source(new_path, std::move(*new_text));
    milkc::DiagnosticSink old_sink(old_source);
    milkc::DiagnosticSink new_sink(new_source);
    std::optional<milkc::File> old_file = milkc::parse_and_check(old_source, old_sink, milkc::explain_mixed_states);
    std::optional<milkc::File> new_file = milkc::parse_and_check(new_source, new_sink, milkc::explain_mixed_states);
    std::cerr << old_sink.render() << new_sink.render();
    if (!old_file || !new_file) return exit_error;
    milkc::DiagnosticSink sink(new_source);
    milkc::check_compat(*old_file, old_path, *new_file, sink);
    std::cerr << sink.render();
    if (sink.has_errors()) return exit_error;
    for (const milkc::ContractDecl& old : old_file->contracts) {
        for (const milkc::ContractDecl& now : new_file->contracts) {
            if (now.name != old.name) continue;
            std::cout << new_path << ": contract " << now.name << ": a server built from it serves clients built from "
                      << old_path << " (identity " << milkc::identity_string(milkc::contract_identity(*old_file, old))
                      << " -> " << milkc::identity_string(milkc::contract_identity(*new_file, now)) << ")\n";
        }
    }
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"milkc: compiles milk contracts into C++ bindings, kernel C stubs, Graphviz and Promela models",
                 "milkc"};
    app.set_version_flag("--version", std::string("milkc ") + MILKC_VERSION);

    std::vector<std::string> files;
    bool check_only = false;
    std::string out_dir;
    std::vector<std::string> emit_names;
    std::vector<std::string> component_specs;
    std::string compat_old;

    app.add_option("files", files, "Contract files (*.contract)")->type_name("FILE");
    auto* check = app.add_flag("--check", check_only,
                               "Only check the contracts (syntax, checks, model check); print one line per contract");
    auto* out = app.add_option("--out,-o", out_dir, "Directory for the generated files")->type_name("DIR");
    auto* emit = app.add_option("--emit", emit_names,
                                "What to generate: cpp, kernel, dot, promela (default: cpp,kernel), or alone "
                                "kernel-registry (milk.ko's registry of the --component list)")
                     ->delimiter(',')
                     ->check(CLI::IsMember({"cpp", "kernel", "dot", "promela", "kernel-registry"}))
                     ->type_name("LIST");
    auto* component = app.add_option("--component", component_specs,
                                     "With --emit kernel-registry: one component of milk.ko, NAME=TYPE=HEADER=CONTRACT")
                          ->allow_extra_args(false)
                          ->type_name("SPEC");
    auto* compat = app.add_option("--compat", compat_old,
                                  "Check that a server built from the one contract FILE given serves clients built "
                                  "from OLD (the rules: docs/contract-language.md, \"Identity and evolution\")")
                       ->type_name("OLD");
    compat->excludes(check);
    compat->excludes(out);
    compat->excludes(emit);
    compat->excludes(component);
    check->excludes(component);
    check->excludes(out);
    check->excludes(emit);

    try {
        app.parse(argc, argv);
        if (!compat_old.empty() && files.size() != 1)
            throw CLI::ValidationError("--compat OLD takes exactly one contract file: the new version");
        const bool registry = std::find(emit_names.begin(), emit_names.end(), "kernel-registry") != emit_names.end();
        if (registry && (emit_names.size() != 1 || !files.empty()))
            throw CLI::ValidationError("--emit kernel-registry takes no contract files and no other emitter");
        if (!registry && !component_specs.empty())
            throw CLI::ValidationError("--component is only for --emit kernel-registry");
        if (registry && component_specs.empty()) throw CLI::ValidationError("--emit kernel-registry needs --component");
        if (!registry && files.empty()) throw CLI::ValidationError("no contract file given");
        if (!check_only && compat_old.empty() && out_dir.empty()) throw CLI::ValidationError("--out DIR is required (or --check to check only)");
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        print_error(e.what());
        std::cerr << "Run 'milkc --help' for usage.\n";
        return exit_usage;
    }
    if (!compat_old.empty()) return run_compat(compat_old, files.front());
    if (emit_names.size() == 1 && emit_names.front() == "kernel-registry")
        return run_kernel_registry(component_specs, out_dir);
    if (emit_names.empty()) emit_names = {"cpp", "kernel"};
    // A file named twice is checked and written once.
    std::vector<std::string> unique_files;
    for (const std::string& file : files) {
        if (std::find(unique_files.begin(), unique_files.end(), file) == unique_files.end()) {
            unique_files.push_back(file);
        }
    }
    return run(unique_files, check_only, out_dir, emit_names);
}
