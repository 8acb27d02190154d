// A host with one instance of a component at a placement: what the tests of
// the policy components (the scheduler's, the memory manager's) connect
// their mechanisms to. MILK_RUNNER_PATH (a compile definition) is the
// runner for `process`.
#pragma once

#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <utility>

namespace milk::test {

inline milk::host::Host make_one_instance_host(const char* instance_name, const char* component,
                                               milk::Placement placement, const milk::Settings& settings = {},
                                               std::chrono::microseconds spin = std::chrono::microseconds(10)) {
    milk::host::Config config;
    config.file = "test";
    milk::host::InstanceConfig instance;
    instance.name = instance_name;
    instance.component = component;
    instance.placement = placement;
    instance.settings = settings;
    instance.spin = spin;
    config.instances.push_back(instance);
    milk::host::HostOptions options;
    options.runner_path = MILK_RUNNER_PATH;
    options.stop_timeout = std::chrono::milliseconds(500);
    auto host = milk::host::Host::try_create(config, milk::host::compiled_components(), options);
    REQUIRE_MESSAGE(host.ok(), (host.ok() ? "" : host.error().what));
    return std::move(host).value();
}

// The scheduler's tests: an instance named "scheduler" of a sched_* component.
inline milk::host::Host make_scheduler_host(const char* component, milk::Placement placement,
                                            const milk::Settings& settings = {}) {
    return make_one_instance_host("scheduler", component, placement, settings);
}

}  // namespace milk::test
