// The component interface: settings, placements, and each component of
// components/ served by milk::serve_channel, as every host runs it, against
// its example client.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "echo_component.hpp"
#include "file_client.hpp"
#include "files_component.hpp"
#include "pingpong_client.hpp"
#include "tally_client.hpp"
#include "tally_component.hpp"

#include <milk/component.hpp>
#include <milk/inproc.hpp>
#include <milk/kernel.hpp>
#include <milk_uapi.h>

#include <array>
#include <future>
#include <optional>
#include <span>
#include <vector>
#include <string>
#include <string_view>
#include <utility>

TEST_CASE("settings: set, replace, find, and the limits a config meets") {
    milk::Settings settings;
    CHECK(settings.size() == 0);
    CHECK(settings.set("limit", 5).ok());
    CHECK(settings.set("limit", 7).ok());  // replaced, not added
    CHECK(settings.size() == 1);
    CHECK(settings.find("limit") == 7);
    CHECK(settings.get_or("absent", -1) == -1);
    CHECK(settings.name_of(0) == "limit");

    CHECK_FALSE(settings.set("", 1).ok());
    CHECK_FALSE(settings.set("Upper", 1).ok());
    CHECK_FALSE(settings.set("with-dash", 1).ok());
    CHECK_FALSE(settings.set(std::string(milk::Settings::max_name_bytes, 'a'), 1).ok());
    CHECK(settings.set(std::string(milk::Settings::max_name_bytes - 1, 'a'), 1).ok());

    milk::Settings full;
    for (std::size_t i = 0; i < milk::Settings::max_entries; ++i)
        CHECK(full.set("s" + std::to_string(i), static_cast<std::int64_t>(i)).ok());
    auto overflow = full.set("one_more", 1);
    REQUIRE_FALSE(overflow.ok());
    CHECK(overflow.error().code == milk::ErrorCode::InvalidArgument);
}

TEST_CASE("settings: text beside integers, each found only as its kind, and never into milk.ko") {
    milk::Settings settings;
    REQUIRE(settings.set("blocks", 64).ok());
    REQUIRE(settings.set_text("path", "/var/lib/milk/disk.img").ok());
    CHECK(settings.size() == 2);
    CHECK(settings.find_text("path") == std::string_view("/var/lib/milk/disk.img"));
    CHECK(settings[1].kind == milk::Settings::Kind::Text);
    CHECK(settings.text_of(1) == "/var/lib/milk/disk.img");
    // Each kind is found only as itself: a text is no integer, and back.
    CHECK_FALSE(settings.find("path").has_value());
    CHECK(settings.get_or("path", -1) == -1);
    CHECK_FALSE(settings.find_text("blocks").has_value());
    // Replacing changes the kind, in place.
    REQUIRE(settings.set("path", 3).ok());
    CHECK(settings.size() == 2);
    CHECK(settings.find("path") == 3);
    CHECK_FALSE(settings.find_text("path").has_value());
    REQUIRE(settings.set_text("blocks", "").ok());
    CHECK(settings.find_text("blocks") == std::string_view(""));

    // A NUL inside, or more text than the pool holds, is refused whole.
    milk::Settings texts;
    CHECK(texts.set_text("a", std::string_view("x\0y", 3)).error().code == milk::ErrorCode::InvalidArgument);
    CHECK(texts.size() == 0);
    const std::string half(milk::Settings::max_text_bytes / 2 - 1, 'p');
    CHECK(texts.set_text("first", half).ok());
    CHECK(texts.set_text("second", half).ok());
    CHECK(texts.set_text("third", "z").error().code == milk::ErrorCode::InvalidArgument);
    CHECK(texts.size() == 2);
    CHECK(texts.find_text("second") == std::string_view(half));
    CHECK_FALSE(texts.set_text("Bad-Name", "x").ok());

    // milk.ko's settings table takes integers only.
    ::milk_settings table{};
    CHECK(milk::kernel::to_settings_table(settings, table).error().code == milk::ErrorCode::InvalidArgument);
    milk::Settings integers;
    REQUIRE(integers.set("blocks", 64).ok());
    REQUIRE(milk::kernel::to_settings_table(integers, table).ok());
    CHECK(table.count == 1);
    CHECK(table.entries[0].value == 64);
}

TEST_CASE("placements: config words both ways, and sets") {
    for (milk::Placement placement : {milk::Placement::Inproc, milk::Placement::Process, milk::Placement::Kernel})
        CHECK(milk::parse_placement(milk::placement_name(placement)) == placement);
    CHECK_FALSE(milk::parse_placement("Kernel").has_value());
    CHECK_FALSE(milk::parse_placement("thread").has_value());
    constexpr milk::PlacementSet user_space{milk::Placement::Inproc, milk::Placement::Process};
    CHECK(user_space.contains(milk::Placement::Process));
    CHECK_FALSE(user_space.contains(milk::Placement::Kernel));
    CHECK(milk::every_placement.contains(milk::Placement::Kernel));
}

TEST_CASE("echo: its step, looped by serve_channel, answers every ping of the client") {
    namespace PingPong = examples::pingpong::PingPong;
    auto channel = PingPong::open_inproc();
    REQUIRE(channel.ok());
    auto [client, server] = std::move(channel).value();
    auto echo = components::echo::Echo::try_create(milk::Settings{});
    REQUIRE(echo.ok());
    auto served = std::async(std::launch::async, [&echo, server_end = std::move(server)]() mutable {
        return milk::serve_channel(echo.value(), std::move(server_end));
    });
    auto report = examples::pingpong::run_client(std::move(client));
    REQUIRE(served.get().ok());
    REQUIRE(report.ok());
    CHECK(report.value().mismatches == 0);
    CHECK(echo.value().answered() == examples::pingpong::round_trips);
}

TEST_CASE("files: the scripted session gets every reply it expects") {
    namespace FileService = examples::files::FileService;
    auto channel = FileService::open_inproc();
    REQUIRE(channel.ok());
    auto [client, server] = std::move(channel).value();
    auto files = components::files::Files::try_create(milk::Settings{});
    REQUIRE(files.ok());
    auto served = std::async(std::launch::async, [&files, server_end = std::move(server)]() mutable {
        return milk::serve_channel(files.value(), std::move(server_end));
    });
    CHECK(examples::files::run_session(std::move(client)));
    CHECK(served.get().ok());
}

TEST_CASE("tally: the `limit` setting is what the server announces, and is range-checked") {
    namespace Tally = examples::tally::Tally;
    milk::Settings settings;
    REQUIRE(settings.set("limit", 2000).ok());
    auto tally = components::tally::Tally::try_create(settings);
    REQUIRE(tally.ok());
    CHECK(tally.value().limit() == 2000);

    auto channel = Tally::open_inproc();
    REQUIRE(channel.ok());
    auto [client, server] = std::move(channel).value();
    auto served = std::async(std::launch::async, [&tally, server_end = std::move(server)]() mutable {
        return milk::serve_channel(tally.value(), std::move(server_end));
    });
    auto report = examples::tally::run_tally_client(std::move(client));
    REQUIRE(served.get().ok());
    REQUIRE(report.ok());
    CHECK(report.value().limit == 2000);
    CHECK(report.value().wrong == 0);
    CHECK(tally.value().report().tallies == report.value().tallies);

    for (std::int64_t bad : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1} << 31}) {
        milk::Settings out_of_range;
        REQUIRE(out_of_range.set("limit", bad).ok());
        auto refused = components::tally::Tally::try_create(out_of_range);
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error().code == milk::ErrorCode::InvalidArgument);
    }
}

TEST_CASE("tally: a client that leaves no room for a Sum for reply_timeout_ms loses its channel") {
    // The client is a raw end that sends two Totals and reads nothing: the
    // ring (2 slots) holds Ready and the first Sum, and the second Sum has
    // no room. The server's wait_for_room, the deadline of its send, ends
    // the session with TimedOut after the setting's 20 ms.
    milk::Settings settings;
    REQUIRE(settings.set("reply_timeout_ms", 20).ok());
    auto tally = components::tally::Tally::try_create(settings);
    REQUIRE(tally.ok());
    auto pair = milk::inproc::open_channel(milk::inproc::Options{.ring_capacity = 2});
    REQUIRE(pair.ok());
    milk::ChannelEnd client = std::move(pair.value().first);
    auto served = std::async(std::launch::async, [&tally, server_end = std::move(pair.value().second)]() mutable {
        return milk::serve_channel(tally.value(), examples::tally::Tally::server(std::move(server_end)));
    });
    milk::Slot total;
    total.tag = static_cast<std::uint16_t>(examples::tally::Tally::Tag::Total);
    for (int i = 0; i < 2; ++i) REQUIRE(client.send(total).ok());
    const auto outcome = served.get();
    REQUIRE_FALSE(outcome.ok());
    CHECK(outcome.error().code == milk::ErrorCode::TimedOut);

    for (std::int64_t bad : {std::int64_t{0}, std::int64_t{1} << 31}) {
        milk::Settings out_of_range;
        REQUIRE(out_of_range.set("reply_timeout_ms", bad).ok());
        CHECK(components::tally::Tally::try_create(out_of_range).error().code == milk::ErrorCode::InvalidArgument);
    }
}

namespace {

milk::Result<int> half(int value) {
    if (value % 2 != 0) return milk::Error{milk::ErrorCode::InvalidArgument, "odd", value};
    return value / 2;
}

milk::Result<int> quarter(int value) {
    const int halved = MILK_TRY(half(value));
    return MILK_TRY(half(halved));
}

}  // namespace

TEST_CASE("MILK_TRY yields the value, or returns the error") {
    CHECK(quarter(12).value() == 3);
    auto odd = quarter(6);
    REQUIRE_FALSE(odd.ok());
    CHECK(odd.error().detail == 3);
}

TEST_CASE("MILK_TRY nests: one inside another's expression") {
    auto nested = []() -> milk::Result<int> { return MILK_TRY(half(MILK_TRY(half(8)))); };
    CHECK(nested().value() == 2);
}

TEST_CASE("files: a snapshot taken at a cut point moves the table: the restored component serves the same channel on") {
    namespace FileService = examples::files::FileService;
    using examples::files::ClientReady;
    auto channel = FileService::open_inproc();
    REQUIRE(channel.ok());
    auto [client, server] = std::move(channel).value();
    // The server: the first component answers two requests (open, write),
    // then, with the channel at a cut point (Ready: it owes nothing), is
    // snapshotted and replaced by one restored from the snapshot, which
    // serves the rest. A move does the same across placements.
    auto served = std::async(std::launch::async, [server_end = std::move(server)]() mutable -> bool {
        auto first = components::files::Files::try_create(milk::Settings{});
        if (!first.ok()) return false;
        std::optional<components::files::FileServerReady> ready{std::move(server_end)};
        for (int i = 0; i < 2; ++i) {
            auto next = first.value().step(std::move(*ready));
            if (!next.ok() || !next.value()) return false;
            ready = std::move(*next.value());
        }
        std::array<std::byte, 1024> buffer{};
        auto size = milk::take_snapshot(first.value(), buffer);
        if (!size.ok()) return false;
        auto second = milk::restore_snapshot<components::files::Files>(milk::Settings{},
                                                                        std::span(buffer.data(), size.value()));
        if (!second.ok()) return false;
        return milk::serve_channel(second.value(), std::move(*ready)).ok();
    });
    auto opened = examples::files::open_file(std::move(client), "/motd");
    REQUIRE(opened.ok());
    CHECK(opened.value().text == "opened, handle 1");
    auto written = examples::files::write_file(std::move(opened.value().client), 1, 6, "milk!");
    REQUIRE(written.ok());
    CHECK(written.value().text == "written, 5 bytes");
    // Served by the restored component from here on: the handle is still
    // open and the file holds the write.
    auto read = examples::files::read_file(std::move(written.value().client), 1, 0, 64);
    REQUIRE(read.ok());
    CHECK(read.value().text == "data \"Hello milk!the file server.\"");
    auto second_open = examples::files::open_file(std::move(read.value().client), "/motd");
    REQUIRE(second_open.ok());
    CHECK(second_open.value().text == "opened, handle 2");
    auto closed = examples::files::close_file(std::move(second_open.value().client), 1);
    REQUIRE(closed.ok());
    CHECK(closed.value().text == "closed");
    CHECK(std::move(closed.value().client).send(FileService::Bye{}).ok());
    CHECK(served.get());
}

TEST_CASE("files: a snapshot of a table this code could not have reached is refused") {
    const auto restore = [](auto write) {
        std::array<std::byte, 512> buffer{};
        milk::SnapshotWriter out(buffer, components::files::Files::name, components::files::Files::snapshot_version);
        write(out);
        const std::size_t size = out.finish().value();
        return milk::restore_snapshot<components::files::Files>(milk::Settings{}, std::span(buffer.data(), size));
    };
    const auto table = [](std::uint8_t filled, std::uint32_t next, std::array<std::uint32_t, 16> handles,
                          std::span<const std::byte> contents) {
        return [=](milk::SnapshotWriter& out) {
            out.put_u8(filled);
            out.put_u32(next);
            for (std::uint32_t handle : handles) out.put_u32(handle);
            out.put_bytes(contents);
        };
    };
    const std::array<std::byte, 3> abc{std::byte{'a'}, std::byte{'b'}, std::byte{'c'}};
    CHECK(restore(table(1, 3, {1, 2}, abc)).ok());
    CHECK(restore(table(0, 1, {}, {})).ok());
    const auto refused = [](const milk::Result<components::files::Files>& result) {
        return !result.ok() && result.error().code == milk::ErrorCode::ProtocolViolation;
    };
    CHECK(refused(restore(table(2, 3, {1, 2}, abc))));  // filled is not a bool
    CHECK(refused(restore(table(1, 0, {}, abc))));      // next handle 0
    CHECK(refused(restore(table(1, 3, {1, 3}, abc))));  // a handle never handed out
    CHECK(refused(restore(table(1, 3, {2, 2}, abc))));  // a handle twice
    CHECK(refused(restore(table(0, 1, {}, abc))));      // contents but no file
    // More than the file may hold.
    std::vector<std::byte> huge(components::files::FileTable::max_file_size + 1);
    std::vector<std::byte> buffer(huge.size() + 512);
    milk::SnapshotWriter out(buffer, "files", 1);
    table(1, 1, {}, huge)(out);
    const std::size_t size = out.finish().value();
    CHECK(milk::restore_snapshot<components::files::Files>(milk::Settings{}, std::span(buffer.data(), size))
              .error()
              .code == milk::ErrorCode::ProtocolViolation);
}

TEST_CASE("echo: a stateless component moves with an empty snapshot, and refuses another's") {
    auto echo = components::echo::Echo::try_create(milk::Settings{});
    REQUIRE(echo.ok());
    std::array<std::byte, 128> buffer{};
    auto size = milk::take_snapshot(echo.value(), buffer);
    REQUIRE(size.ok());
    CHECK(size.value() == milk::snapshot_header_bytes);
    CHECK(milk::restore_snapshot<components::echo::Echo>(milk::Settings{}, std::span(buffer.data(), size.value())).ok());
    auto other =
        milk::restore_snapshot<components::files::Files>(milk::Settings{}, std::span(buffer.data(), size.value()));
    REQUIRE_FALSE(other.ok());
    CHECK(other.error().code == milk::ErrorCode::ProtocolViolation);
}
