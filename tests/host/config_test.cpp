// milk::host::parse_config: the config format, the overrides and their
// precedence, the kernel probe's answers, and the diagnostics' positions.
// The component list is hand-written records, so that these tests do not
// depend on which components a build has.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <milk/host/config.hpp>

#include <array>
#include <string>
#include <vector>

namespace {

using milk::Placement;
using milk::host::DiagnosticCode;
using milk::host::KernelAvailability;
using milk::host::LoadResult;
using milk::host::Overrides;
using milk::host::PlacementSource;

milk::Result<void> no_serve(const milk::Settings&, milk::ChannelEnd&&) {
    return milk::Error{milk::ErrorCode::InvalidArgument, "not served in this test", 0};
}

const std::array<milk::host::ComponentType, 3> components{{
    {"echo", "examples.pingpong.PingPong", 1, milk::every_placement, milk::Statefulness::Stateless,
     milk::SettingNames{}, no_serve},
    {"tally", "examples.tally.Tally", 1, milk::PlacementSet{Placement::Inproc, Placement::Process},
     milk::Statefulness::Stateful, milk::SettingNames{"limit", "start"}, no_serve},
    // A component that reads as many settings as a config may give.
    {"wide", "examples.pingpong.PingPong", 1, milk::every_placement, milk::Statefulness::Stateless,
     milk::SettingNames{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"}, no_serve},
}};

// A probe that must not be asked: a config without `kernel` never needs it.
milk::host::KernelProbe unasked_probe() {
    return milk::host::KernelProbe{[](std::string_view) {
        FAIL("the kernel probe was asked");
        return KernelAvailability::NotLoaded;
    }};
}

LoadResult parse(std::string_view text, const Overrides& overrides = {},
                 const milk::host::KernelProbe& kernel = unasked_probe()) {
    return milk::host::parse_config(text, "test.toml", components, overrides, kernel);
}

std::vector<DiagnosticCode> codes(const LoadResult& result) {
    std::vector<DiagnosticCode> out;
    for (const auto& diagnostic : result.diagnostics) out.push_back(diagnostic.code);
    return out;
}

constexpr std::string_view two_instances = R"(# two instances
[echo]
component = "echo"
placement = "process"

[counter]
component = "tally"
placement = "inproc"
[counter.settings]
limit = 1000
start = -5
)";

}  // namespace

TEST_CASE("a good config gives its instances in file order, with their settings and positions") {
    LoadResult result = parse(two_instances);
    REQUIRE(result.diagnostics.empty());
    REQUIRE(result.config);
    CHECK(result.config->file == "test.toml");
    REQUIRE(result.config->instances.size() == 2);
    const auto& echo = result.config->instances[0];
    CHECK(echo.name == "echo");
    CHECK(echo.component == "echo");
    CHECK(echo.placement == Placement::Process);
    CHECK(echo.placement_source == PlacementSource::File);
    CHECK(echo.settings.size() == 0);
    CHECK(echo.where.file == "test.toml");
    CHECK(echo.where.line == 2);
    const auto& counter = result.config->instances[1];
    CHECK(counter.name == "counter");
    CHECK(counter.placement == Placement::Inproc);
    CHECK(counter.where.line == 6);
    CHECK(counter.settings.get_or("limit", 0) == 1000);
    CHECK(counter.settings.get_or("start", 0) == -5);
}

TEST_CASE("precedence: a flag beats MILK_PLACE, which beats the file") {
    Overrides overrides;
    overrides.environment = "echo=inproc,counter=process";
    overrides.flags = {"echo=process"};
    LoadResult result = parse(two_instances, overrides);
    REQUIRE(result.config);
    const auto& echo = result.config->instances[0];
    CHECK(echo.placement == Placement::Process);
    CHECK(echo.placement_source == PlacementSource::Flag);
    const auto& counter = result.config->instances[1];
    CHECK(counter.placement == Placement::Process);
    CHECK(counter.placement_source == PlacementSource::Environment);

    // Without the flag, the environment wins over the file.
    overrides.flags.clear();
    result = parse(two_instances, overrides);
    REQUIRE(result.config);
    CHECK(result.config->instances[0].placement == Placement::Inproc);
    CHECK(result.config->instances[0].placement_source == PlacementSource::Environment);

    // An empty MILK_PLACE overrides nothing.
    overrides.environment = "";
    result = parse(two_instances, overrides);
    REQUIRE(result.config);
    CHECK(result.config->instances[0].placement == Placement::Process);
    CHECK(result.config->instances[0].placement_source == PlacementSource::File);
}

TEST_CASE("overrides: blanks around names are ignored, errors name their source") {
    Overrides overrides;
    overrides.environment = " echo = inproc ,nothere=kernel";
    overrides.flags = {"echo", "counter=sideways", "counter=process", "counter=inproc"};
    LoadResult result = parse(two_instances, overrides);
    CHECK_FALSE(result.config);
    REQUIRE(result.diagnostics.size() == 4);
    CHECK(result.diagnostics[0].code == DiagnosticCode::MalformedOverride);
    CHECK(result.diagnostics[0].where.file == "--place");
    CHECK(result.diagnostics[1].code == DiagnosticCode::UnknownPlacement);
    CHECK(result.diagnostics[1].where.file == "--place");
    CHECK(result.diagnostics[2].code == DiagnosticCode::ConflictingOverride);
    CHECK(result.diagnostics[3].code == DiagnosticCode::OverrideUnknownInstance);
    CHECK(result.diagnostics[3].where.file == "MILK_PLACE");
    CHECK(result.diagnostics[3].message == "override of \"nothere\": the config has no such instance");
    CHECK(result.diagnostics[3].note == "instances: echo, counter");
}

TEST_CASE("kernel: the probe decides, and its answer is never replaced by another placement") {
    constexpr std::string_view config = "[echo]\ncomponent = \"echo\"\nplacement = \"kernel\"\n";
    std::vector<std::string> asked;
    milk::host::KernelProbe loaded{[&](std::string_view component) {
        asked.emplace_back(component);
        return KernelAvailability::Available;
    }};
    LoadResult result = parse(config, {}, loaded);
    REQUIRE(result.config);
    CHECK(result.config->instances[0].placement == Placement::Kernel);
    CHECK(asked == std::vector<std::string>{"echo"});

    result = parse(config, {}, milk::host::fixed_kernel_probe({"files"}));
    CHECK_FALSE(result.config);
    CHECK(codes(result) == std::vector{DiagnosticCode::KernelLacksComponent});

    result = parse(config, {}, milk::host::device_kernel_probe("/nonexistent/milk"));
    CHECK_FALSE(result.config);
    CHECK(codes(result) == std::vector{DiagnosticCode::KernelNotLoaded});
    CHECK(result.diagnostics[0].where.line == 3);
    CHECK(result.diagnostics[0].where.column == 13);

    // A device that is not milk's (MILK_IOC_VERSION fails) is no milk.ko.
    result = parse(config, {}, milk::host::device_kernel_probe("/dev/null"));
    CHECK(codes(result) == std::vector{DiagnosticCode::KernelNotLoaded});

    // A placement in the kernel by a flag is checked the same way and
    // blamed on the flag.
    Overrides overrides;
    overrides.flags = {"echo=kernel"};
    result = parse(two_instances, overrides, milk::host::device_kernel_probe("/nonexistent/milk"));
    REQUIRE(result.diagnostics.size() == 1);
    CHECK(result.diagnostics[0].code == DiagnosticCode::KernelNotLoaded);
    CHECK(result.diagnostics[0].where.file == "--place");
    CHECK(result.diagnostics[0].message == "instance \"echo\": placement \"kernel\" (from --place) but milk.ko is not loaded");
}

TEST_CASE("a placement the component does not support is an error, wherever it came from") {
    Overrides overrides;
    overrides.environment = "counter=kernel";
    LoadResult result = parse(two_instances, overrides);
    CHECK_FALSE(result.config);
    REQUIRE(result.diagnostics.size() == 1);
    CHECK(result.diagnostics[0].code == DiagnosticCode::UnsupportedPlacement);
    CHECK(result.diagnostics[0].where.file == "MILK_PLACE");
    CHECK(result.diagnostics[0].note == "component \"tally\" supports: inproc, process");
}

TEST_CASE("every error is reported, in file order, with its position") {
    constexpr std::string_view config = R"([a]
component = "nope"
placement = "sideways"
colour = 3

[B]
component = 7
placement = "inproc"
[B.settings]
Bad = 1
ok = 1.5
)";
    LoadResult result = parse(config);
    CHECK_FALSE(result.config);
    CHECK(codes(result) == std::vector{DiagnosticCode::UnknownComponent, DiagnosticCode::UnknownPlacement,
                                       DiagnosticCode::UnknownKey, DiagnosticCode::BadInstanceName,
                                       DiagnosticCode::WrongType, DiagnosticCode::BadSettingName,
                                       DiagnosticCode::BadSettingValue});
    CHECK(result.diagnostics[0].where.line == 2);
    CHECK(result.diagnostics[0].where.column == 13);
    CHECK(result.diagnostics[0].note == "compiled into this host: echo, tally, wide");
    CHECK(result.diagnostics[2].where.line == 4);
    CHECK(result.diagnostics[2].where.column == 1);
    CHECK(result.diagnostics[2].note == "allowed keys: component, placement, settings, restart, restart_limit, spin_us");
}

TEST_CASE("the report stops after max_diagnostics errors, and says so") {
    std::string config = "[echo]\ncomponent = \"echo\"\nplacement = \"inproc\"\n";
    for (int i = 0; i < 30; ++i) config += "key" + std::to_string(i) + " = 1\n";
    LoadResult result = parse(config);
    REQUIRE(result.diagnostics.size() == milk::host::max_diagnostics + 1);
    CHECK(result.diagnostics.back().code == DiagnosticCode::TooManyErrors);
}

TEST_CASE("settings: at most eight, integers only") {
    std::string config = "[wide]\ncomponent = \"wide\"\nplacement = \"inproc\"\n[wide.settings]\n";
    for (int i = 0; i < 8; ++i) config += "s" + std::to_string(i) + " = " + std::to_string(i) + "\n";
    LoadResult result = parse(config);
    REQUIRE(result.config);
    CHECK(result.config->instances[0].settings.size() == 8);
    CHECK(result.config->instances[0].settings.get_or("s7", 0) == 7);

    config += "s8 = 8\ns9 = 9\n";
    result = parse(config);
    CHECK(codes(result) == std::vector{DiagnosticCode::TooManySettings});
    CHECK(result.diagnostics[0].where.line == 13);
}

TEST_CASE("settings: only those the component reads, whichever key comes first") {
    // The settings table before the component: the check waits for both.
    LoadResult result = parse("[counter.settings]\nlimt = 10\nlimit = 5\n[counter]\ncomponent = \"tally\"\n"
                              "placement = \"inproc\"\n");
    REQUIRE(codes(result) == std::vector{DiagnosticCode::UnknownSetting});
    CHECK(result.diagnostics[0].where.line == 2);
    CHECK(result.diagnostics[0].message == "instance \"counter\": component \"tally\" has no setting \"limt\"");
    CHECK(result.diagnostics[0].note == "component \"tally\" reads: limit, start");

    result = parse("[echo]\ncomponent = \"echo\"\nplacement = \"inproc\"\n[echo.settings]\nlimit = 1\n");
    REQUIRE(codes(result) == std::vector{DiagnosticCode::UnknownSetting});
    CHECK(result.diagnostics[0].note == "component \"echo\" reads no settings");
}

TEST_CASE("TOML errors: syntax, and a duplicate instance said as such") {
    LoadResult result = parse("[echo\ncomponent = \"echo\"\n");
    CHECK(codes(result) == std::vector{DiagnosticCode::SyntaxError});
    CHECK(result.diagnostics[0].where.line == 1);

    result = parse("[echo]\ncomponent = \"echo\"\nplacement = \"inproc\"\n[echo]\nplacement = \"process\"\n");
    CHECK(codes(result) == std::vector{DiagnosticCode::DuplicateInstance});
    CHECK(result.diagnostics[0].message == "duplicate instance \"echo\"");
    CHECK(result.diagnostics[0].where.line == 4);

    result = parse("# nothing here\n");
    CHECK(codes(result) == std::vector{DiagnosticCode::NoInstances});
}

TEST_CASE("missing keys, reserved keys, wrong types") {
    LoadResult result = parse("[echo]\nrelocation = \"live\"\nsettings = 3\n");
    CHECK(codes(result) == std::vector{DiagnosticCode::ReservedKey, DiagnosticCode::WrongType,
                                       DiagnosticCode::MissingKey, DiagnosticCode::MissingKey});
    result = parse("echo = 1\n");
    CHECK(codes(result) == std::vector{DiagnosticCode::NotAnInstance});
}

TEST_CASE("format: position, code, message and note") {
    milk::host::Diagnostic diagnostic{DiagnosticCode::UnknownPlacement, "instance \"echo\": unknown placement \"x\"",
                                      {"a.toml", 3, 13}, "allowed: inproc, process, kernel"};
    CHECK(milk::host::format(diagnostic) ==
          "a.toml:3:13: error[H0011]: instance \"echo\": unknown placement \"x\"\n"
          "  note: allowed: inproc, process, kernel\n");
    diagnostic.where = {"--place", 0, 0};
    diagnostic.note.clear();
    CHECK(milk::host::format(diagnostic) == "--place: error[H0011]: instance \"echo\": unknown placement \"x\"\n");
}

TEST_CASE("load_config: an unreadable file is a diagnostic, not a crash") {
    LoadResult result = milk::host::load_config("/nonexistent/milk.toml", components, {}, unasked_probe());
    CHECK_FALSE(result.config);
    CHECK(codes(result) == std::vector{DiagnosticCode::UnreadableFile});
    CHECK(result.diagnostics[0].message == "cannot read the config: No such file or directory");

    // An endless file is not read to the end of memory.
    result = milk::host::load_config("/dev/zero", components, {}, unasked_probe());
    CHECK(codes(result) == std::vector{DiagnosticCode::UnreadableFile});
    CHECK(result.diagnostics[0].message == "cannot read the config: File too large");
}

TEST_CASE("restart: the policy and its limit, their defaults and their errors") {
    LoadResult result = parse("[echo]\ncomponent = \"echo\"\nplacement = \"process\"\n"
                              "restart = \"on-failure\"\nrestart_limit = 3\n"
                              "[other]\ncomponent = \"echo\"\nplacement = \"process\"\n");
    REQUIRE(result.config);
    CHECK(result.config->instances[0].restart == milk::host::RestartPolicy::OnFailure);
    CHECK(result.config->instances[0].restart_limit == 3);
    CHECK(result.config->instances[1].restart == milk::host::RestartPolicy::Never);
    CHECK(result.config->instances[1].restart_limit == 5);
    result = parse("[echo]\ncomponent = \"echo\"\nplacement = \"process\"\nrestart = \"always\"\n"
                   "restart_limit = 1001\n");
    CHECK(codes(result) == std::vector{DiagnosticCode::UnknownRestartPolicy, DiagnosticCode::BadRestartLimit});
    result = parse("[echo]\ncomponent = \"echo\"\nplacement = \"process\"\nrestart = 1\nrestart_limit = \"2\"\n");
    CHECK(codes(result) == std::vector{DiagnosticCode::WrongType, DiagnosticCode::BadRestartLimit});
}

TEST_CASE("spin_us: how long the component's end spins, its default and its errors") {
    LoadResult result = parse("[echo]\ncomponent = \"echo\"\nplacement = \"inproc\"\nspin_us = 200\n"
                              "[other]\ncomponent = \"echo\"\nplacement = \"process\"\nspin_us = 0\n"
                              "[third]\ncomponent = \"echo\"\nplacement = \"process\"\n");
    REQUIRE(result.config);
    CHECK(result.config->instances[0].spin == std::chrono::microseconds(200));
    CHECK(result.config->instances[1].spin == std::chrono::microseconds(0));
    CHECK(result.config->instances[2].spin == std::chrono::microseconds(10));
    for (const char* bad : {"spin_us = -1\n", "spin_us = 1000001\n", "spin_us = \"fast\"\n", "spin_us = 1.5\n"}) {
        CAPTURE(bad);
        result = parse(std::string("[echo]\ncomponent = \"echo\"\nplacement = \"inproc\"\n") + bad);
        CHECK(codes(result) == std::vector{DiagnosticCode::BadSpin});
    }
}
