// The memory manager components (components/mem) over contracts/mem.contract,
// placed by the host in its own process and in a process of their own, and
// driven by a mechanism in simulation: a region of pages, a pool of frames,
// a fault per touch of a page without a frame. The policies are the
// scheduler's very objects (components/policy); here they place pages.
//
// The real mechanism (userland/mem, userfaultfd) has tests of its own; this
// one checks the decisions themselves, one batch at a time.
#include "mem/mem_client.hpp"
#include "mem/mem_component.hpp"

#include "../host/one_instance_host.hpp"

#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace {

using components::mem::MemClient;
using milk::Placement;
using milk::mem::Decision;
using milk::mem::DecisionKind;
using milk::mem::Event;
using milk::mem::EventKind;
namespace Mem = milk::mem::Mem;

constexpr auto answer_timeout = std::chrono::seconds(10);

template <typename T>
T take(milk::Result<T>&& result) {
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().what));
    return std::move(result).value();
}

milk::host::Host make_host(const char* component, Placement placement, const milk::Settings& settings = {}) {
    return milk::test::make_one_instance_host("pager", component, placement, settings);
}

MemClient connect(milk::host::Host& host, std::uint32_t pages, std::uint32_t frames) {
    auto endpoint = take(host.connect<Mem::Contract>("pager"));
    return take(MemClient::try_connect(std::move(endpoint), {pages, frames}, answer_timeout));
}

// One batch of `events`; its decisions, in order.
std::vector<Decision> batch(MemClient& client, std::initializer_list<Event> events, std::uint64_t now = 0) {
    for (const Event& event : events) REQUIRE(client.report(event).ok());
    auto decisions = take(client.commit(now, answer_timeout));
    return {decisions.begin(), decisions.end()};
}

Event fault(std::uint32_t page) { return {EventKind::fault, page, 0}; }
Event accessed(std::uint32_t page) { return {EventKind::accessed, page, 0}; }
Event release(std::uint32_t page, std::uint32_t count) { return {EventKind::release, page, count}; }
Event round() { return {EventKind::round, 0, 0}; }
Event tenant(std::uint32_t first, std::uint32_t weight) { return {EventKind::tenant, first, weight}; }
Decision map(std::uint32_t page, std::uint32_t frame) { return {DecisionKind::map, page, frame}; }
Decision evict(std::uint32_t page, std::uint32_t frame) { return {DecisionKind::evict, page, frame}; }
Decision prefetch(std::uint32_t page, std::uint32_t frame) { return {DecisionKind::prefetch, page, frame}; }
Event write_fault(std::uint32_t page) { return {EventKind::fault, page, 1}; }
Event pressure(std::uint32_t frames) { return {EventKind::pressure, 0, frames}; }

bool same(const std::vector<Decision>& a, const std::vector<Decision>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].kind != b[i].kind || a[i].page != b[i].page || a[i].frame != b[i].frame) return false;
    return true;
}

doctest::String describe(const std::vector<Decision>& decisions) {
    std::string text;
    for (const Decision& d : decisions)
        text += (d.kind == DecisionKind::map ? "map " : d.kind == DecisionKind::prefetch ? "prefetch " : "evict ") +
                std::to_string(d.page) + "@" +
                std::to_string(d.frame) + "; ";
    return text.c_str();
}

#define CHECK_DECISIONS(got, ...)                              \
    do {                                                       \
        const std::vector<Decision> expected_{__VA_ARGS__};    \
        const std::vector<Decision> got_ = (got);              \
        CHECK_MESSAGE(same(got_, expected_), describe(got_));      \
    } while (false)

}  // namespace

TEST_CASE("mem_fifo: free frames first, then the page mapped first is evicted for a fault") {
    for (Placement placement : {Placement::Inproc, Placement::Process}) {
        CAPTURE(static_cast<int>(placement));
        auto host = make_host("mem_fifo", placement);
        auto client = connect(host, 16, 2);
        CHECK_DECISIONS(batch(client, {fault(5)}), map(5, 0));
        CHECK_DECISIONS(batch(client, {fault(9)}), map(9, 1));
        // The pool is full: the page mapped first goes, its frame takes the fault.
        CHECK_DECISIONS(batch(client, {fault(3)}), evict(5, 0), map(3, 0));
        // Being accessed is no reprieve under FIFO.
        CHECK_DECISIONS(batch(client, {accessed(9), fault(5)}), evict(9, 1), map(5, 1));
        // Two faults of one batch: every eviction comes before every map.
        CHECK_DECISIONS(batch(client, {fault(1), fault(2)}), evict(3, 0), evict(5, 1), map(1, 0), map(2, 1));
        CHECK(client.bye().ok());
    }
}

TEST_CASE("mem_clock: a page seen accessed gets its second chance") {
    auto host = make_host("mem_clock", Placement::Inproc);
    auto client = connect(host, 16, 3);
    CHECK_DECISIONS(batch(client, {fault(0), fault(1), fault(2)}), map(0, 0), map(1, 1), map(2, 2));
    // Every page is fresh: the hand clears all three bits and comes back
    // to frame 0.
    CHECK_DECISIONS(batch(client, {fault(3)}), evict(0, 0), map(3, 0));
    // Page 1 was used since, page 2 was not: page 2 goes, where FIFO would
    // take page 1.
    CHECK_DECISIONS(batch(client, {accessed(1), fault(4)}), evict(2, 2), map(4, 2));
    CHECK(client.bye().ok());
}

TEST_CASE("mem_lru: the page with the least use over the last rounds goes, not only the last round's") {
    auto host = make_host("mem_lru", Placement::Inproc);
    auto client = connect(host, 16, 3);
    CHECK_DECISIONS(batch(client, {fault(0), fault(1), fault(2)}), map(0, 0), map(1, 1), map(2, 2));
    // Rounds of samples: all three were placed in the first, 0 and 1 used
    // in the second, 2 in the third, 0 in the fourth. Ages: page 0 0xb0,
    // page 1 0x30, page 2 0x50.
    CHECK_DECISIONS(batch(client, {round()}));
    CHECK_DECISIONS(batch(client, {accessed(0), accessed(1), round()}));
    CHECK_DECISIONS(batch(client, {accessed(2), round()}));
    CHECK_DECISIONS(batch(client, {accessed(0), round()}));
    // Neither 1 nor 2 was used in the last round (CLOCK cannot tell them
    // apart); page 1's last use is the older: it goes.
    CHECK_DECISIONS(batch(client, {fault(3)}), evict(1, 1), map(3, 1));
    // Page 3, placed since the last round, counts as used in this one: page
    // 2 goes before it.
    CHECK_DECISIONS(batch(client, {fault(4)}), evict(2, 2), map(4, 2));
    CHECK(client.bye().ok());

    // A round means nothing to CLOCK: the same batches, the hand's order.
    auto clock_host = make_host("mem_clock", Placement::Inproc);
    auto clock = connect(clock_host, 16, 3);
    CHECK_DECISIONS(batch(clock, {fault(0), fault(1), fault(2)}), map(0, 0), map(1, 1), map(2, 2));
    CHECK_DECISIONS(batch(clock, {round(), accessed(0), accessed(1), round(), accessed(2), round(), accessed(0), round()}));
    CHECK_DECISIONS(batch(clock, {fault(3)}), evict(0, 0), map(3, 0));
    CHECK(clock.bye().ok());
}

TEST_CASE("mem_fair: a tenant under its weighted share takes frames from the one over it, one per fault") {
    for (Placement placement : {Placement::Inproc, Placement::Process}) {
        CAPTURE(static_cast<int>(placement));
        auto host = make_host("mem_fair", placement);
        auto client = connect(host, 16, 4);
        // Tenant 1: pages 0-7, weight 1; tenant 2: pages 8-15, weight 3.
        // Their shares of the four frames: one and three.
        CHECK_DECISIONS(batch(client, {tenant(0, 1), tenant(8, 3), fault(0), fault(1), fault(2), fault(3)}), map(0, 0),
                        map(1, 1), map(2, 2), map(3, 3));
        // Tenant 1 holds the whole pool while tenant 2 wants none; then
        // each fault of tenant 2 takes tenant 1's oldest page.
        CHECK_DECISIONS(batch(client, {fault(8)}), evict(0, 0), map(8, 0));
        CHECK_DECISIONS(batch(client, {fault(9)}), evict(1, 1), map(9, 1));
        CHECK_DECISIONS(batch(client, {fault(10)}), evict(2, 2), map(10, 2));
        // Both at their shares: each replaces its own oldest page.
        CHECK_DECISIONS(batch(client, {fault(11)}), evict(8, 0), map(11, 0));
        CHECK_DECISIONS(batch(client, {fault(4)}), evict(3, 3), map(4, 3));
        CHECK(client.bye().ok());
    }
}

TEST_CASE("mem: tenants come in order, before their pages fault, with a weight") {
    struct Case {
        const char* what;
        std::vector<Event> events;
    };
    const Case cases[] = {
        {"a tenant of weight 0", {tenant(3, 0)}},
        {"a tenant of weight over 2^20", {tenant(3, (1u << 20) + 1)}},
        {"a tenant outside the region", {tenant(16, 1)}},
        {"tenants out of order", {tenant(8, 1), tenant(4, 1)}},
        {"a tenant declared after a fault of its pages", {fault(9), tenant(8, 1)}},
    };
    for (const Case& bad : cases) {
        CAPTURE(bad.what);
        auto host = make_host("mem_fair", Placement::Inproc);
        auto client = connect(host, 16, 2);
        for (const Event& event : bad.events) REQUIRE(client.report(event).ok());
        auto answer = client.commit(0, answer_timeout);
        REQUIRE_FALSE(answer.ok());
        const milk::ErrorCode code = answer.error().code;
        CHECK((code == milk::ErrorCode::ProtocolViolation || code == milk::ErrorCode::PeerClosed));
    }
    // Fifteen tenants at most; every memory manager takes tenants (a FIFO
    // ignores them).
    auto host = make_host("mem_fifo", Placement::Inproc);
    auto client = connect(host, 32, 2);
    for (std::uint32_t t = 0; t < 15; ++t) REQUIRE(client.report(tenant(t, 1)).ok());
    CHECK_DECISIONS(batch(client, {fault(20)}), map(20, 0));
    REQUIRE(client.report(tenant(16, 1)).ok());
    CHECK_FALSE(client.commit(0, answer_timeout).ok());
}

TEST_CASE("mem: a released page frees its frame, a fault repeated in a batch needs none") {
    auto host = make_host("mem_fifo", Placement::Inproc);
    auto client = connect(host, 16, 2);
    CHECK_DECISIONS(batch(client, {fault(0), fault(1), fault(1)}), map(0, 0), map(1, 1));
    // The mechanism dropped page 0 itself (MADV_DONTNEED): nothing to evict.
    CHECK_DECISIONS(batch(client, {release(0, 1)}));
    CHECK_DECISIONS(batch(client, {fault(7)}), map(7, 0));
    // A fault on a page mapped already (it raced its own map) is no new fault.
    CHECK_DECISIONS(batch(client, {fault(7)}));
    // Page 0 comes back: a fault like any other.
    CHECK_DECISIONS(batch(client, {fault(0)}), evict(1, 1), map(0, 1));
    CHECK(client.bye().ok());
}

TEST_CASE("mem: a mechanism that breaks the rules ends the channel") {
    struct Case {
        const char* what;
        Event event;
    };
    const Case cases[] = {
        {"a fault outside the region", fault(16)},
        {"a released range past the end", release(10, 7)},
        {"an empty released range", release(3, 0)},
        {"an accessed page outside the region", accessed(99)},
    };
    for (const Case& bad : cases) {
        CAPTURE(bad.what);
        auto host = make_host("mem_clock", Placement::Inproc);
        auto client = connect(host, 16, 2);
        REQUIRE(client.report(bad.event).ok());
        auto answer = client.commit(0, answer_timeout);
        REQUIRE_FALSE(answer.ok());
        // The policy closed the channel with the violation as its reason:
        // the commit's receive reports it (ProtocolViolation), or, when the
        // close came first, the commit's send of Commit finds the channel
        // closed (PeerClosed). Either way the channel is over.
        const milk::ErrorCode code = answer.error().code;
        CHECK((code == milk::ErrorCode::ProtocolViolation || code == milk::ErrorCode::PeerClosed));
    }
}

// The Pager's commit visits only the frames its batch changed; a mechanism
// that applies every commit must hold exactly what the books say, for every
// rule, through faults, releases, samples, rounds, pressure and readahead
// in random batches.
template <typename Rule>
void check_commits_follow_the_books(std::uint32_t seed, std::uint32_t readahead = 0) {
    constexpr std::uint32_t pages = 300;
    constexpr std::uint32_t frames = 70;
    auto pager = take(components::mem::Pager<Rule>::try_create(pages, frames, Rule{}, {readahead}));
    std::vector<std::uint32_t> held(frames, 0xffffffffu);  // the mechanism's frames
    std::uint32_t random = seed;
    auto next = [&random] {
        random = random * 1103515245u + 12345u;
        return random >> 8;
    };
    std::uint64_t now = 1;
    for (std::uint32_t batch = 0; batch < 2000; ++batch) {
        const std::uint32_t events = 1 + next() % 40;
        for (std::uint32_t i = 0; i < events; ++i) {
            const std::uint32_t page = next() % pages;
            const std::uint32_t what = next() % 20;
            Event event{EventKind::fault, page, 0};
            if (what == 0) {
                event = {EventKind::release, page, 1 + next() % 5};
                if (page + event.count > pages) event.count = pages - page;
                // The mechanism drops released pages itself.
                for (std::uint32_t& on : held)
                    if (on >= page && on < page + event.count) on = 0xffffffffu;
            } else if (what == 1) {
                event = {EventKind::round, 0, 0};
            } else if (what == 2) {
                event = {EventKind::pressure, 0, 1 + next() % 3};
            } else if (what < 5) {
                event = {EventKind::accessed, page, 0};
            }
            REQUIRE(pager.apply(event, now++).ok());
        }
        pager.commit([&](const Decision& decision) {
            REQUIRE(decision.frame < frames);
            if (decision.kind == DecisionKind::evict) {
                REQUIRE(held[decision.frame] == decision.page);
                held[decision.frame] = 0xffffffffu;
            } else {
                REQUIRE(held[decision.frame] == 0xffffffffu);
                held[decision.frame] = decision.page;
            }
        });
        for (std::uint32_t frame = 0; frame < frames; ++frame) {
            const auto on = pager.policy().entity_on(frame);
            REQUIRE(held[frame] == (on == components::policy::no_entity ? 0xffffffffu : on));
        }
    }
}

TEST_CASE("mem: every commit takes the mechanism exactly to the books, visiting only the frames that changed") {
    check_commits_follow_the_books<components::policy::FifoRule>(1);
    check_commits_follow_the_books<components::policy::ClockRule>(2);
    check_commits_follow_the_books<components::policy::AgingRule>(3);
    check_commits_follow_the_books<components::policy::TenantShareRule>(4);
    check_commits_follow_the_books<components::policy::FifoRule>(5, 3);
    check_commits_follow_the_books<components::policy::ClockRule>(6, 8);
}

TEST_CASE("mem: readahead prefetches the pages after a fault onto free frames, never by evicting") {
    milk::Settings settings;
    REQUIRE(settings.set("readahead", 2).ok());
    for (Placement placement : {Placement::Inproc, Placement::Process}) {
        CAPTURE(static_cast<int>(placement));
        auto host = make_host("mem_fifo", placement, settings);
        auto client = connect(host, 16, 4);
        // A write fault decides like a read one; 2 and 3 come along.
        CHECK_DECISIONS(batch(client, {write_fault(1)}), map(1, 0), prefetch(2, 1), prefetch(3, 2));
        // A fault of a prefetched page needs nothing; one frame is left for 6.
        CHECK_DECISIONS(batch(client, {fault(2)}));
        CHECK_DECISIONS(batch(client, {fault(5)}), map(5, 3));
        // The pool is full: a fault evicts for itself, and nothing for a guess.
        CHECK_DECISIONS(batch(client, {fault(9)}), evict(1, 0), map(9, 0));
        CHECK(client.bye().ok());
    }
}

TEST_CASE("mem: pressure evicts the policy's victims and leaves their frames free for the next faults") {
    auto host = make_host("mem_fifo", Placement::Inproc);
    auto client = connect(host, 16, 4);
    CHECK_DECISIONS(batch(client, {fault(0), fault(1), fault(2), fault(3)}), map(0, 0), map(1, 1), map(2, 2), map(3, 3));
    // Two frames back: FIFO's victims, the pages mapped first.
    CHECK_DECISIONS(batch(client, {pressure(2)}), evict(0, 0), evict(1, 1));
    // Faults find them free: no eviction.
    CHECK_DECISIONS(batch(client, {fault(7)}), map(7, 0));
    // More than the pool is a broken rule.
    REQUIRE(client.report(pressure(5)).ok());
    auto refused = client.commit(0, answer_timeout);
    CHECK_FALSE(refused.ok());
}

TEST_CASE("mem: readahead is a setting of 0 to 64") {
    milk::Settings settings;
    REQUIRE(settings.set("readahead", 65).ok());
    auto refused = components::mem::FifoMemoryManager::try_create(settings);
    REQUIRE_FALSE(refused.ok());
    CHECK(std::string(refused.error().what) == "mem: `readahead` must be 0 to 64");
}

TEST_CASE("mem: a memory manager refuses a region or pool beyond its settings") {
    milk::Settings settings;
    REQUIRE(settings.set("max_pages", 64).ok());
    REQUIRE(settings.set("max_frames", 8).ok());
    auto host = make_host("mem_fifo", Placement::Inproc, settings);
    auto endpoint = take(host.connect<Mem::Contract>("pager"));
    auto refused = MemClient::try_connect(std::move(endpoint), {64, 9}, answer_timeout);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == milk::ErrorCode::InvalidArgument);
    CHECK(refused.error().detail == 8);

    milk::Settings more_frames_than_pages;
    REQUIRE(more_frames_than_pages.set("max_pages", 4).ok());
    REQUIRE(more_frames_than_pages.set("max_frames", 5).ok());
    CHECK(components::mem::FifoMemoryManager::try_create(more_frames_than_pages).error().code ==
          milk::ErrorCode::InvalidArgument);
}
