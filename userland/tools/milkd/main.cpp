// milkd: the host as a program.
//
//   milkd --config FILE [--place INSTANCE=PLACEMENT]... [--socket PATH]
//   milkd --check --config FILE [--place INSTANCE=PLACEMENT]...
//
// Both read the config, apply the overrides (flag > MILK_PLACE > file) and
// check everything against the components compiled into this program and
// the loaded milk.ko; any error is printed with its position and nothing
// starts. --check stops there and prints a summary. Exit status: 0 when all
// is well, 1 on an error in the config or while running, 2 on a bad command
// line (as milkc).
#include <milk/host/component_type.hpp>
#include <milk/host/config.hpp>
#include <milk/host/daemon.hpp>
#include <milk/host/kernel_probe.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int exit_ok = 0;
constexpr int exit_error = 1;
constexpr int exit_usage = 2;

// What --check prints for a config without errors.
void print_summary(const milk::host::Config& config) {
    std::size_t count = config.instances.size();
    std::cout << config.file << ": " << count << (count == 1 ? " instance" : " instances") << ": ok\n";
    for (const milk::host::InstanceConfig& instance : config.instances) {
        std::cout << "  " << instance.name << ": component " << instance.component << ", placement "
                  << milk::placement_name(instance.placement) << " ("
                  << milk::host::placement_source_name(instance.placement_source) << ")";
        for (std::size_t i = 0; i < instance.settings.size(); ++i) {
            std::cout << (i == 0 ? ", settings " : ", ") << instance.settings.name_of(i) << '=';
            if (instance.settings[i].kind == milk::Settings::Kind::Text)
                std::cout << '"' << instance.settings.text_of(i) << '"';
            else
                std::cout << instance.settings[i].value;
        }
        std::cout << '\n';
    }
}

std::vector<std::string> split_list(const std::string& list) {
    std::vector<std::string> items;
    std::stringstream stream(list);
    std::string item;
    while (std::getline(stream, item, ','))
        if (!item.empty()) items.push_back(item);
    return items;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"milkd: runs the component instances of a config where it places them"};
    std::string config_path;
    std::vector<std::string> places;
    std::string socket_path;
    bool check = false;
    std::optional<std::string> kernel_device;
    std::optional<std::string> kernel_components;

    app.add_option("--config", config_path, "the config file (TOML)")->required();
    app.add_option("--place", places,
                   "INSTANCE=PLACEMENT: place an instance elsewhere than the file says; repeatable; "
                   "overrides MILK_PLACE, which overrides the file")
        ->type_name("INSTANCE=PLACEMENT")
        ->take_all()
        ->allow_extra_args(false);
    app.add_option("--socket", socket_path, "the Unix socket clients connect through");
    app.add_flag("--check", check, "check the config and the overrides, print a summary, and exit");
    // Test hooks: they change only what the check believes about milk.ko,
    // so that every kernel diagnostic can be tested on a machine with or
    // without the module. Refused outside --check, where they would lie to
    // a running host.
    app.add_option("--kernel-device", kernel_device,
                   "for tests, with --check: ask this device instead of /dev/milk whether milk.ko is loaded")
        ->group("Testing");
    app.add_option("--kernel-components", kernel_components,
                   "for tests, with --check: treat milk.ko as loaded with exactly these components (a,b,...)")
        ->group("Testing");
    app.get_formatter()->column_width(34);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        int status = app.exit(error);
        return status == 0 ? exit_ok : exit_usage;
    }
    if (!check && (kernel_device || kernel_components)) {
        std::cerr << "milkd: error: --kernel-device and --kernel-components are test hooks for --check\n";
        return exit_usage;
    }
    if (kernel_device && kernel_components) {
        std::cerr << "milkd: error: give --kernel-device or --kernel-components, not both\n";
        return exit_usage;
    }
    if (check && !socket_path.empty()) {
        std::cerr << "milkd: error: --socket has no meaning with --check\n";
        return exit_usage;
    }

    milk::host::KernelProbe kernel = kernel_components ? milk::host::fixed_kernel_probe(split_list(*kernel_components))
                                                       : milk::host::device_kernel_probe(kernel_device.value_or("/dev/milk"));
    milk::host::LoadResult loaded = milk::host::load_config(
        config_path, milk::host::compiled_components(), milk::host::overrides_from_environment(places), kernel);
    if (!loaded.config) {
        for (const milk::host::Diagnostic& diagnostic : loaded.diagnostics) std::cerr << milk::host::format(diagnostic);
        return exit_error;
    }
    if (check) {
        print_summary(*loaded.config);
        return exit_ok;
    }

    milk::Result<void> ran = milk::host::run_daemon(*loaded.config, milk::host::DaemonOptions{socket_path});
    if (!ran.ok()) {
        const milk::Error& error = ran.error();
        std::cerr << (error.what != nullptr ? error.what : milk::describe(error.code)) << '\n';
        return exit_error;
    }
    return exit_ok;
}
