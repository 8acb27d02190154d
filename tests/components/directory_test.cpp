// The directory component (components/directory) served by the host in each
// user-space placement, a session handed over in its entry state, and the
// plain Directory contract's client served by it (an extension keeps its
// base's wire). The same client runs against milk.ko in the VM
// (tests/vm/programs/kernel_directory_test.cpp).
#include "directory_component.hpp"

#include <milk/host/host.hpp>
#include <milk/host/component_type.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <thread>

#include "../../examples/directory/directory_client.hpp"

namespace {

namespace Registry = examples::directory::Registry;
namespace Plain = examples::directory::Directory;
using examples::directory::Rights;
using examples::directory::Status;
using examples::directory::client::AdminReport;
using examples::directory::client::session_answers;
using milk::Placement;

milk::host::Host make_host(Placement placement, std::int64_t secret) {
    milk::host::InstanceConfig instance;
    instance.name = "names";
    instance.component = "directory";
    instance.placement = placement;
    REQUIRE(instance.settings.set("secret", secret).ok());
    milk::host::Config config;
    config.file = "test";
    config.instances.push_back(std::move(instance));
    milk::host::HostOptions options;
    options.runner_path = MILK_RUNNER_PATH;
    auto host = milk::host::Host::try_create(config, milk::host::compiled_components(), options);
    REQUIRE_MESSAGE(host.ok(), (host.ok() || host.error().what == nullptr ? "" : host.error().what));
    return std::move(host).value();
}

}  // namespace

TEST_CASE("directory: an administrator's session, with the component in this process and in its own") {
    for (Placement placement : {Placement::Inproc, Placement::Process}) {
        CAPTURE(placement);
        milk::host::Host host = make_host(placement, 0x77);
        auto client = host.connect<Registry::Contract>("names");
        REQUIRE(client.ok());
        auto report = examples::directory::client::administer(std::move(client).value(), 0x77);
        REQUIRE_MESSAGE(report.ok(), (report.ok() || report.error().what == nullptr ? "" : report.error().what));
        CHECK(report.value().answers == session_answers);
        CHECK(report.value().mismatches == 0);
    }
}

TEST_CASE("directory: a session handed over in the middle starts in Admin, its entry state") {
    auto directory = components::directory::Directory::try_create(milk::Settings{}).value();
    auto [client, server] = Registry::open_inproc_at<Registry::state::Admin>().value();
    std::thread serving(
        [&, endpoint = std::move(server)]() mutable { REQUIRE(directory.serve_admin(std::move(endpoint)).ok()); });
    auto report = examples::directory::client::administer_from(std::move(client), AdminReport{});
    serving.join();
    REQUIRE(report.ok());
    CHECK(report.value().answers == 6);
    CHECK(report.value().mismatches == 0);
    CHECK(directory.report().registered == 2);
    CHECK(directory.report().deregistered == 1);
    CHECK(directory.report().lookups == 2);
    CHECK(directory.report().hung_up);
}

TEST_CASE("directory: a plain Directory client is served by the registrar, as the extension promises") {
    auto directory = components::directory::Directory::try_create(milk::Settings{}).value();
    auto pair = milk::inproc::open_channel().value();
    Plain::Client<Plain::state::Ready> ready = Plain::client(std::move(pair.first));
    std::thread serving([&, endpoint = Registry::server(std::move(pair.second))]() mutable {
        REQUIRE(directory.serve(std::move(endpoint)).ok());
    });
    // An empty directory: Missing; then Bye.
    auto waiting = std::move(ready).send(Plain::Lookup{5}).value();
    std::optional<Plain::Client<Plain::state::Ready>> next;
    REQUIRE(std::move(waiting)
                .receive([&](Plain::Found&&, Plain::Client<Plain::state::Ready>&&) { FAIL("found in an empty directory"); },
                         [&](Plain::Missing&& missing, Plain::Client<Plain::state::Ready>&& after) {
                             CHECK(missing.status == Status::not_found);
                             next.emplace(std::move(after));
                         })
                .ok());
    REQUIRE(next.has_value());
    REQUIRE(std::move(*next).send(Plain::Bye{}).ok());
    serving.join();
    CHECK(directory.report().lookups == 1);
    CHECK_FALSE(directory.report().hung_up);
}

TEST_CASE("directory: the `secret` setting is what the proof must use") {
    CHECK_FALSE(components::directory::Directory::try_create([] {
                    milk::Settings settings;
                    REQUIRE(settings.set("secret", -1).ok());
                    return settings;
                }())
                    .ok());
    milk::host::Host host = make_host(Placement::Inproc, 0x99);
    auto client = host.connect<Registry::Contract>("names");
    REQUIRE(client.ok());
    // A client that believes the secret is another: both logins refused.
    auto report = examples::directory::client::administer(std::move(client).value(), 0x77);
    REQUIRE(report.ok());
    CHECK(report.value().mismatches == 1);
    CHECK(report.value().answers == 4);
}
