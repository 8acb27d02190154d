// What a Host keeps per instance. Not installed.
#pragma once

#include "instance_counters.hpp"
#include "runner_process.hpp"

#include <milk/host/host.hpp>

#include <memory>

namespace milk::host {

struct Host::Instance {
    InstanceConfig config;
    const ComponentType* type = nullptr;
    HostOptions options;
    // Where the component's side counts (inproc, process).
    std::shared_ptr<const detail::CounterPage> counters;
    // The runner of a `process` instance.
    std::unique_ptr<detail::RunnerProcess> runner;
};

}  // namespace milk::host
