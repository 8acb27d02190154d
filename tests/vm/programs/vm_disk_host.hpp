// A host with one block service instance, "disk", for the VM's programs
// that put milk's block device under a file system or fio
// (kernel_blk_disk_test, bench/blk_bench): blk_ram, or blk_file over a
// file of the guest, with the runner the harness brings (/host/milk-runner).
#pragma once

#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>

#include <chrono>
#include <cstdint>

namespace milk::vm {

struct DiskHostOptions {
    milk::Placement placement = milk::Placement::Process;
    milk::host::RestartPolicy restart = milk::host::RestartPolicy::Never;
    // blk_file over this file when set; blk_ram otherwise.
    const char* file = nullptr;
    std::int64_t blocks = 8192;  // of 4 KiB: 32 MiB
};

[[nodiscard]] inline milk::Result<milk::host::Host> make_disk_host(const char* config_name, const DiskHostOptions& disk) {
    milk::host::Config config;
    config.file = config_name;
    milk::host::InstanceConfig instance;
    instance.name = "disk";
    instance.component = disk.file != nullptr ? "blk_file" : "blk_ram";
    instance.placement = disk.placement;
    instance.restart = disk.restart;
    MILK_TRY(instance.settings.set("blocks", disk.blocks));
    if (disk.file != nullptr) MILK_TRY(instance.settings.set_text("path", disk.file));
    config.instances.push_back(instance);
    milk::host::HostOptions options;
    options.runner_path = "/host/milk-runner";
    options.stop_timeout = std::chrono::milliseconds(500);
    return milk::host::Host::try_create(config, milk::host::compiled_components(), options);
}

}  // namespace milk::vm
