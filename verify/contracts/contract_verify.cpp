// milk_contract_verify: milkc's model checker and SPIN, side by side, on
// contract files; the verdicts must agree (docs/verification.md).
//
//   milk_contract_verify [--jobs N] [--work DIR] FILE.contract...
//   milk_contract_verify --broken [--jobs N] [--work DIR] FILE.contract...
//
// For each contract, both checkers decide the same three properties: can it
// deadlock, can a message arrive where its receiver cannot take it, and which
// states does each side never enter. milkc's answer comes from model_check()
// (E0050, E0051 or E0052, E0031), SPIN's from pan's full search of the Promela model
// milkc emits (an invalid end state, an assertion violation, the `at = N`
// statements listed as unreached). Any difference is a failure.
//
// Tree mode (the default) does what `milkc --check` does: a file is parsed
// and checked, and only a file that passes the structural checks reaches the
// model check. Files the checks reject (the diagnostic test cases under
// contracts/testdata/bad) are listed as such and have nothing to compare,
// except when the only complaints are ones the model checker can judge on
// the merely parsed tree (mixed directions, a duplicated transition, an
// unreachable state): those are compared as in broken mode.
//
// Broken mode (verify/contracts-broken/) skips the structural checks: it
// model-checks the tree parse() returns, as model_check_test.cpp does, because
// most ways to break the properties are rejected by the checks long before a
// model check. Each file says what must be found, one `// expect:` line per
// problem (`deadlock`, `unspecified-reception`, `unreached <State>`), and
// both checkers must find exactly that.
//
// This is a separate program rather than a hidden milkc flag so that milkc's
// command line stays what users see; it links the same libraries milkc does
// (milkc_front, milkc_model, milkc_emit_other), so it judges milkc's code.
#include "diagnostics.hpp"
#include "emit.hpp"
#include "frontend.hpp"
#include "model_check.hpp"
#include "parser.hpp"
#include "source.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

namespace fs = std::filesystem;

enum class Mode : std::uint8_t { Tree, Broken };
enum class Side : std::uint8_t { Client, Server };

// What one checker says about one contract. States are named by their
// 0-based declaration index, which is what the Promela model's `at = N`
// uses; `end` is left out (milkc does not require `end` to be reached: a
// contract may be an endless loop).
struct Verdict {
    bool deadlock = false;
    bool unspecified_reception = false;
    std::set<std::pair<Side, std::uint32_t>> unreached;

    bool operator==(const Verdict&) const = default;
};

std::string describe(const Verdict& verdict, const milkc::ContractDecl& contract) {
    std::string text;
    auto add = [&text](const std::string& part) { text += (text.empty() ? "" : ", ") + part; };
    if (verdict.deadlock) add("deadlock");
    if (verdict.unspecified_reception) add("unspecified reception");
    for (const auto& [side, state] : verdict.unreached) {
        std::string name = state < contract.states.size() ? contract.states[state].name : std::to_string(state);
        add(std::string("`") + name + "` unreached by the " + (side == Side::Client ? "client" : "server"));
    }
    return text.empty() ? "ok" : text;
}

std::optional<std::string> read_text(const fs::path& path) {
    std::ifstream stream(path, std::ios::binary);
    if (!stream) return std::nullopt;
    std::stringstream text;
    text << stream.rdbuf();
    return text.str();
}

struct CommandResult {
    int status = -1;
    std::string output;
};

// Runs `command` through /bin/sh in `directory`, stdout and stderr captured
// to a file there. posix_spawn rather than std::system, which POSIX does not
// promise to be safe from several threads at once.
CommandResult run(const fs::path& directory, const std::string& command) {
    const fs::path log = directory / "command.log";
    std::string line = "cd '" + directory.string() + "' && (" + command + ") >'" + log.string() + "' 2>&1";
    const char* argv[] = {"/bin/sh", "-c", line.c_str(), nullptr};
    pid_t pid = 0;
    CommandResult result;
    // posix_spawn's argv is char* const[] for C's sake; it does not write to it.
    if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ) != 0) {
        result.output = "cannot start /bin/sh";
        return result;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.output = read_text(log).value_or("");
    return result;
}

// milkc's verdict, from the diagnostics model_check() reported.
Verdict milkc_verdict(const milkc::ContractDecl& contract, const milkc::DiagnosticSink& sink) {
    Verdict verdict;
    for (const milkc::Diagnostic& diagnostic : sink.diagnostics()) {
        switch (diagnostic.code) {
        case milkc::DiagnosticCode::Deadlock: verdict.deadlock = true; break;
        // A race (E0052) is an unspecified reception whose two messages
        // crossed: SPIN sees the same assertion fail.
        case milkc::DiagnosticCode::UnspecifiedReception:
        case milkc::DiagnosticCode::Race: verdict.unspecified_reception = true; break;
        case milkc::DiagnosticCode::UnreachableState: {
            // The diagnostic points at the state's declaration; its text says
            // which side never gets there (model_check.cpp).
            for (std::uint32_t i = 0; i < contract.states.size(); ++i) {
                const milkc::Location& at = contract.states[i].location;
                if (at.line != diagnostic.location.line || at.column != diagnostic.location.column) continue;
                const std::string& text = diagnostic.message;
                bool client = text.find("neither") != std::string::npos ||
                              text.find("never reached by the client") != std::string::npos;
                bool server = text.find("neither") != std::string::npos ||
                              text.find("never reached by the server") != std::string::npos;
                if (client) verdict.unreached.insert({Side::Client, i});
                if (server) verdict.unreached.insert({Side::Server, i});
            }
            break;
        }
        default: break;
        }
    }
    return verdict;
}

struct SpinResult {
    std::optional<Verdict> verdict;  // none when SPIN or pan could not run
    std::string output;
};

// spin -a, cc, pan on the model of one contract of the file. pan runs with
// -c0 (go on after errors) so that the search is always complete and its
// unreached-code report means "never entered", like milkc's E0031. NOREDUCE:
// partial-order reduction keeps deadlocks and assertion violations but is
// not meant to keep every local state reachable; contracts are small
// enough to search without it.
SpinResult spin_verdict(const fs::path& directory, const std::string& model, const milkc::ContractDecl& contract) {
    SpinResult result;
    fs::create_directories(directory);
    {
        std::ofstream out(directory / "model.pml", std::ios::binary | std::ios::trunc);
        out << model;
    }
    CommandResult generated =
        run(directory, "spin -DMILK_ONLY -DMILK_ONLY_" + contract.name + " -a model.pml");
    if (generated.status != 0) {
        result.output = "spin -a failed:\n" + generated.output;
        return result;
    }
    CommandResult compiled = run(directory, "cc -O1 -w -DSAFETY -DNOREDUCE -o pan pan.c");
    if (compiled.status != 0) {
        result.output = "cc pan.c failed:\n" + compiled.output;
        return result;
    }
    CommandResult searched = run(directory, "./pan -c0 -w18");
    result.output = searched.output;

    Verdict verdict;
    bool have_errors_line = false;
    std::istringstream lines(searched.output);
    std::string line;
    // The process whose unreached code is being listed, if one of ours. (A
    // plain pointer rather than std::optional<Side>: g++ 12 warns, wrongly,
    // that the optional may be read uninitialised.)
    const Side* proctype = nullptr;
    static constexpr Side client = Side::Client;
    static constexpr Side server = Side::Server;
    const std::string end_at = "at = " + std::to_string(contract.states.size());
    while (std::getline(lines, line)) {
        if (line.find("errors: ") != std::string::npos) have_errors_line = true;
        // "pan:1: invalid end state (at depth 7)"; the summary's option
        // list ("invalid end states +") starts otherwise.
        if (line.rfind("pan:", 0) == 0) {
            if (line.find(": invalid end state") != std::string::npos) verdict.deadlock = true;
            if (line.find(": assertion violated") != std::string::npos) verdict.unspecified_reception = true;
        }
        const std::string header = "unreached in proctype ";
        if (line.rfind(header, 0) == 0) {
            std::string name = line.substr(header.size());
            proctype = nullptr;
            if (name == "client_" + contract.name) proctype = &client;
            if (name == "server_" + contract.name) proctype = &server;
            continue;
        }
        if (proctype && !line.empty() && line[0] == '\t') {
            std::size_t at = line.find("\"at = ");
            if (at == std::string::npos) continue;
            std::size_t close = line.find('"', at + 1);
            std::string statement = line.substr(at + 1, close - at - 1);
            if (statement == end_at) continue;
            verdict.unreached.insert({*proctype, static_cast<std::uint32_t>(std::stoul(statement.substr(5)))});
            continue;
        }
        proctype = nullptr;
    }
    if (searched.status != 0 || !have_errors_line) {
        result.output = "pan did not finish:\n" + searched.output;
        return result;
    }
    result.verdict = verdict;
    return result;
}

// The `// expect:` lines of a broken contract, as a verdict. Returns nothing
// (and says why) when a line cannot be understood.
std::optional<Verdict> expected_verdict(const std::string& text, const milkc::ContractDecl& contract,
                                        std::string& problem) {
    Verdict verdict;
    bool any = false;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        const std::string prefix = "// expect: ";
        if (line.rfind(prefix, 0) != 0) continue;
        any = true;
        std::istringstream words(line.substr(prefix.size()));
        std::string what;
        std::string state;
        std::string side;
        words >> what >> state >> side;
        if (what == "deadlock") {
            verdict.deadlock = true;
        } else if (what == "unspecified-reception") {
            verdict.unspecified_reception = true;
        } else if (what == "unreached") {
            auto found = std::find_if(contract.states.begin(), contract.states.end(),
                                      [&](const milkc::StateDecl& decl) { return decl.name == state; });
            if (found == contract.states.end()) {
                problem = "`// expect: unreached " + state + "`: no such state";
                return std::nullopt;
            }
            auto index = static_cast<std::uint32_t>(found - contract.states.begin());
            if (side != "server") verdict.unreached.insert({Side::Client, index});
            if (side != "client") verdict.unreached.insert({Side::Server, index});
        } else {
            problem = "cannot read `" + line + "`";
            return std::nullopt;
        }
    }
    if (!any) {
        problem = "a broken contract needs `// expect:` lines naming what must be found";
        return std::nullopt;
    }
    return verdict;
}

// The structural errors after which the parsed tree is still one the model
// checker and the Promela model understand alike (docs/model-checking.md).
bool model_checkable_despite(const milkc::DiagnosticSink& sink) {
    return std::all_of(sink.diagnostics().begin(), sink.diagnostics().end(), [](const milkc::Diagnostic& d) {
        return d.code == milkc::DiagnosticCode::MixedDirections ||
               d.code == milkc::DiagnosticCode::DuplicateTransition ||
               d.code == milkc::DiagnosticCode::UnreachableState;
    });
}

struct FileResult {
    std::string report;  // what to print, one line per contract
    int compared = 0;    // contracts both checkers judged
    int rejected = 0;    // files the structural checks rejected (tree mode)
    bool failed = false;
};

FileResult verify_file(const fs::path& path, Mode mode, const fs::path& work) {
    FileResult result;
    std::optional<std::string> text = read_text(path);
    if (!text) {
        result.failed = true;
        result.report = path.string() + ": cannot read\n";
        return result;
    }
    const std::string name = path.string();

    milkc::SourceFile source(name, *text);
    // The tree both checkers see: the checked one when the checks pass,
    // otherwise (broken mode, or structural errors the model checker can
    // judge) the merely parsed one.
    milkc::DiagnosticSink check_sink(source);
    std::optional<milkc::File> file;
    bool unchecked = mode == Mode::Broken;
    if (mode == Mode::Tree) {
        file = milkc::parse_and_check(source, check_sink);
        if (!file) {
            if (!model_checkable_despite(check_sink)) {
                std::set<std::string> codes;
                for (const auto& d : check_sink.diagnostics()) codes.insert(milkc::code_string(d.code));
                std::string list;
                for (const auto& code : codes) list += (list.empty() ? "" : " ") + code;
                result.rejected = 1;
                result.report = name + ": rejected by the structural checks (" + list + "), not model-checked\n";
                return result;
            }
            unchecked = true;
        }
    }
    if (unchecked) {
        milkc::DiagnosticSink parse_sink(source);
        milkc::ParseResult parsed = milkc::parse(source, parse_sink);
        if (!parsed.syntax_ok) {
            result.failed = true;
            result.report = name + ": does not parse:\n" + parse_sink.render();
            return result;
        }
        file = std::move(parsed.file);
    }

    const milkc::EmitContext context{path.filename().string(), "verify"};
    const std::string model = milkc::emit_promela(*file, context);
    for (const milkc::ContractDecl& contract : file->contracts) {
        milkc::DiagnosticSink sink(source);
        static_cast<void>(milkc::model_check(contract, sink));
        Verdict ours = milkc_verdict(contract, sink);

        fs::path directory = work / (path.parent_path().filename().string() + "-" + path.stem().string() + "-" +
                                     contract.name);
        SpinResult spin = spin_verdict(directory, model, contract);
        std::string line = name + ": contract " + contract.name + (unchecked ? " (unchecked tree)" : "") +
                           ": milkc: " + describe(ours, contract);
        if (!spin.verdict) {
            result.failed = true;
            result.report += line + "; SPIN: could not run\n" + spin.output + "\n";
            continue;
        }
        line += "; SPIN: " + describe(*spin.verdict, contract);
        ++result.compared;
        if (ours != *spin.verdict) {
            result.failed = true;
            result.report += line + ": DISAGREE\n" + sink.render() + spin.output + "\n";
            continue;
        }
        if (mode == Mode::Broken) {
            std::string problem;
            std::optional<Verdict> expected = expected_verdict(*text, contract, problem);
            if (!expected) {
                result.failed = true;
                result.report += line + ": " + problem + "\n";
                continue;
            }
            if (*expected != ours) {
                result.failed = true;
                result.report += line + ": agree, but expected " + describe(*expected, contract) + "\n";
                continue;
            }
            if (*expected == Verdict{}) {
                result.failed = true;
                result.report += line + ": a broken contract must break something\n";
                continue;
            }
        }
        result.report += line + ": agree\n";
    }
    if (file->contracts.empty()) result.report = name + ": no contract\n";
    return result;
}

int usage() {
    std::cerr << "usage: milk_contract_verify [--broken] [--jobs N] [--work DIR] FILE.contract...\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Mode mode = Mode::Tree;
    unsigned jobs = 1;
    fs::path work = fs::temp_directory_path() / ("milk-contract-verify-" + std::to_string(getpid()));
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        std::string argument = argv[i];
        if (argument == "--broken") {
            mode = Mode::Broken;
        } else if (argument == "--jobs" && i + 1 < argc) {
            jobs = static_cast<unsigned>(std::max(1, std::atoi(argv[++i])));
        } else if (argument == "--work" && i + 1 < argc) {
            work = argv[++i];
        } else if (!argument.empty() && argument[0] == '-') {
            return usage();
        } else {
            files.emplace_back(argument);
        }
    }
    if (files.empty()) return usage();
    std::sort(files.begin(), files.end());

    std::vector<FileResult> results(files.size());
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (std::size_t i = next++; i < files.size(); i = next++) results[i] = verify_file(files[i], mode, work);
    };
    std::vector<std::thread> threads;
    for (unsigned j = 1; j < std::min<std::size_t>(jobs, files.size()); ++j) threads.emplace_back(worker);
    worker();
    for (std::thread& thread : threads) thread.join();

    int compared = 0;
    int rejected = 0;
    int failed = 0;
    for (const FileResult& result : results) {
        std::cout << result.report;
        compared += result.compared;
        rejected += result.rejected;
        failed += result.failed ? 1 : 0;
    }
    std::cout << "milk_contract_verify: " << files.size() << " files, " << compared
              << " contracts judged by both milkc and SPIN, " << rejected << " files rejected by the checks, "
              << failed << " files failed\n";
    if (failed == 0) {
        std::error_code ignored;
        fs::remove_all(work, ignored);
    }
    return failed == 0 ? 0 : 1;
}
