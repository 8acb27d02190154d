// The registry generated from components/CMakeLists.txt: every component of
// the list, with what a host needs to place it.
#include <doctest/doctest.h>

#include <milk/host/component_type.hpp>
#include <milk/inproc.hpp>

#include "pingpong.hpp"

#include <cstddef>
#include <string_view>

TEST_CASE("the generated registry lists the components of components/CMakeLists.txt") {
    const auto components = milk::host::compiled_components();
    REQUIRE(components.size() == 15);
    const char* const names[] = {"echo",      "files",       "tally",     "directory", "sched_fifo", "sched_rr",
                                 "sched_fair", "sched_clock", "sched_las", "mem_fifo",  "mem_clock",
                                 "mem_lru",    "mem_fair",    "blk_ram",   "blk_file"};
    for (std::size_t i = 0; i < components.size(); ++i) CHECK(std::string_view(components[i].name) == names[i]);
    // The five schedulers serve one contract and differ by their policy's settings.
    CHECK(std::string_view(milk::host::find_component(components, "sched_las")->contract) == "milk.sched.Sched");
    CHECK(milk::host::find_component(components, "sched_rr")->setting_names.contains("quantum_us"));
    CHECK(milk::host::find_component(components, "sched_fair")->setting_names.contains("granularity_us"));
    CHECK_FALSE(milk::host::find_component(components, "sched_fifo")->setting_names.contains("quantum_us"));
    // The memory managers serve theirs, with the region's and pool's limits.
    CHECK(std::string_view(milk::host::find_component(components, "mem_clock")->contract) == "milk.mem.Mem");
    CHECK(std::string_view(milk::host::find_component(components, "blk_ram")->contract) == "milk.blk.Blk");
    CHECK(milk::host::find_component(components, "blk_ram")->setting_names.contains("max_depth"));
    // blk_file reads its file's path as text, and so runs in user space only.
    const milk::host::ComponentType* blk_file = milk::host::find_component(components, "blk_file");
    REQUIRE(blk_file != nullptr);
    CHECK(blk_file->text_setting_names.contains("path"));
    CHECK_FALSE(blk_file->text_setting_names.contains("blocks"));
    CHECK_FALSE(blk_file->placements.contains(milk::Placement::Kernel));
    CHECK(milk::host::find_component(components, "blk_ram")->text_setting_names.size() == 0);
    CHECK(milk::host::find_component(components, "mem_fifo")->setting_names.contains("max_frames"));
    // A scheduler's or a pager's own process locks its memory; the others need not.
    CHECK(milk::host::find_component(components, "mem_fifo")->residence == milk::MemoryResidence::Pinned);
    CHECK(milk::host::find_component(components, "sched_fair")->residence == milk::MemoryResidence::Pinned);
    CHECK(milk::host::find_component(components, "echo")->residence == milk::MemoryResidence::Pageable);

    const milk::host::ComponentType* echo = milk::host::find_component(components, "echo");
    REQUIRE(echo != nullptr);
    CHECK(std::string_view(echo->contract) == "examples.pingpong.PingPong");
    // The contract's identity, as milkc computed it (codegen/identity.hpp).
    CHECK(echo->version == examples::pingpong::PingPong::Contract::version);
    CHECK(echo->placements == milk::every_placement);
    CHECK(echo->statefulness == milk::Statefulness::Stateless);
    CHECK(milk::host::find_component(components, "files")->statefulness == milk::Statefulness::Stateful);
    // The settings each reads, as the host checks a config against them.
    CHECK(echo->setting_names.size() == 0);
    const milk::SettingNames& tally_settings = milk::host::find_component(components, "tally")->setting_names;
    CHECK(tally_settings.size() == 2);
    CHECK(tally_settings.contains("limit"));
    CHECK(tally_settings.contains("reply_timeout_ms"));
    CHECK_FALSE(tally_settings.contains("limt"));
    CHECK(milk::host::find_component(components, "nothing") == nullptr);
}

TEST_CASE("a registry entry builds its component from settings and serves a channel end") {
    const milk::host::ComponentType* tally = milk::host::find_component(milk::host::compiled_components(), "tally");
    REQUIRE(tally != nullptr);
    auto pair = milk::inproc::open_channel();
    REQUIRE(pair.ok());
    milk::Settings settings;
    REQUIRE(settings.set("limit", 0).ok());  // out of range: try_create refuses, nothing is served
    auto refused = tally->serve(settings, std::move(pair.value().second));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == milk::ErrorCode::InvalidArgument);
}
