// Helpers for the back-end tests (model check, kernel stubs, dot, Promela):
// contract text to trees, temporary directories, and running external tools
// (cc, dot, spin) on generated files.
#pragma once

#include "diagnostics.hpp"
#include "frontend.hpp"
#include "parser.hpp"
#include "source.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <sys/wait.h>

namespace milkc::test {

// A contract file in memory with its diagnostics. Heap-allocated because the
// sink keeps a pointer to the source.
struct Parsed {
    SourceFile source;
    DiagnosticSink sink;
    std::optional<File> file;

    Parsed(std::string path, std::string text) : source(std::move(path), std::move(text)), sink(source) {}
};

// Parses and checks `text`; the test fails when the checks report anything.
inline std::unique_ptr<Parsed> checked(const std::string& text, const std::string& path = "test.contract") {
    auto parsed = std::make_unique<Parsed>(path, text);
    parsed->file = parse_and_check(parsed->source, parsed->sink);
    INFO(parsed->sink.render());
    REQUIRE(parsed->file.has_value());
    return parsed;
}

// Only parses `text`: the structural checks do not run, so a state may mix
// directions or have two transitions on one message. This is how the tests
// show that the model checker catches what the checks normally prevent.
inline std::unique_ptr<Parsed> unchecked(const std::string& text, const std::string& path = "test.contract") {
    auto parsed = std::make_unique<Parsed>(path, text);
    ParseResult result = parse(parsed->source, parsed->sink);
    INFO(parsed->sink.render());
    REQUIRE(result.syntax_ok);
    parsed->file = std::move(result.file);
    return parsed;
}

// A fresh directory under the system's temporary directory, removed with
// everything in it when the object goes away.
class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "milkc-backend-XXXXXX").string();
        char* made = ::mkdtemp(pattern.data());
        REQUIRE(made != nullptr);
        m_path = made;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(m_path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

    std::filesystem::path write(const std::string& name, const std::string& text) const {
        std::filesystem::path file = m_path / name;
        std::ofstream stream(file, std::ios::binary);
        stream << text;
        REQUIRE(static_cast<bool>(stream));
        return file;
    }

private:
    std::filesystem::path m_path;
};

struct CommandResult {
    int status = -1;  // the exit status, or -1 when the command did not exit normally
    std::string output;  // stdout and stderr together
};

// Runs `command` through the shell, with stderr folded into the output.
inline CommandResult run(const std::string& command) {
    CommandResult result;
    std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buffer[4096];
    std::size_t count = 0;
    while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, count);
    int status = ::pclose(pipe);
    if (status != -1 && WIFEXITED(status)) result.status = WEXITSTATUS(status);
    return result;
}

// Whether `program` is on PATH. Tests that need an optional tool (dot,
// spin, clang-19) say so and pass vacuously only when it is missing.
inline bool have_program(const std::string& program) {
    return run("command -v " + program + " >/dev/null").status == 0;
}

inline std::string quote(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

}  // namespace milkc::test
