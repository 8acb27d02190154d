// The memory manager's policy: the server side of contracts/mem.contract. A
// mechanism that can map pages of a region onto frames of a smaller pool
// (the client: userland/mem's userfaultfd handler) reports faults, accessed
// pages and released ranges in batches; this component feeds them to one of
// the sOS policies (components/policy), the very objects the scheduler uses,
// and answers each batch with the evictions and mappings that take the
// mechanism's frames to where the policy wants them. A fault is the tick
// (the policy's moment of control), an eviction the preemption
// (docs/mem.md).
//
// One source for every placement, like the scheduler: only the freestanding
// runtime (generated endpoints, milk::Result, milk::FixedArray).
//
// One component per rule, so that a config says which policy by the name:
// mem_fifo (evict the page mapped first), mem_clock (second chance from the
// accessed bits the mechanism samples: an LRU approximation), mem_lru
// (aging: eight rounds of those samples per page, the least recently used
// goes), mem_fair (a weighted share of the pool between the tenants, the
// regions that share it).
#pragma once

#include "mem.hpp"  // generated from contracts/mem.contract

#include "policy/aging.hpp"
#include "policy/batch_server.hpp"
#include "policy/clock.hpp"
#include "policy/fifo.hpp"
#include "policy/tenant_share.hpp"

#include <milk/component.hpp>
#include <milk/fixed_array.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <utility>

namespace components::mem {

namespace MemContract = milk::mem::Mem;
using milk::mem::DecisionKind;
using milk::mem::EventKind;

using ServerStart = MemContract::Server<MemContract::state::Start>;
using ServerGreeting = MemContract::Server<MemContract::state::Greeting>;
using ServerIdle = MemContract::Server<MemContract::state::Idle>;
using ServerBatching = MemContract::Server<MemContract::state::Batching>;
using ServerDeciding = MemContract::Server<MemContract::state::Deciding>;

// The contract's types, for the batch loop it shares with the scheduler.
struct MemShape {
    using Hello = MemContract::Hello;
    using Welcome = MemContract::Welcome;
    using Refused = MemContract::Refused;
    using Events = MemContract::Events;
    using Commit = MemContract::Commit;
    using Decisions = MemContract::Decisions;
    using Decided = MemContract::Decided;
    using Bye = MemContract::Bye;
    using ServerStart = components::mem::ServerStart;
    using ServerGreeting = components::mem::ServerGreeting;
    using ServerIdle = components::mem::ServerIdle;
    using ServerBatching = components::mem::ServerBatching;
    using ServerDeciding = components::mem::ServerDeciding;
    static constexpr const char* stale_batch = "mem: a message of another batch inside a batch";
};

// The largest region and pool a memory manager takes unless its settings
// say otherwise (pages and frames of 4 KiB: 4 GiB and 1 GiB).
inline constexpr std::int64_t default_max_pages = 1 << 20;
inline constexpr std::int64_t default_max_frames = 1 << 18;

template <typename Rule>
struct RuleSettings;

template <>
struct RuleSettings<policy::FifoRule> {
    static constexpr const char* name = "mem_fifo";
};

template <>
struct RuleSettings<policy::ClockRule> {
    static constexpr const char* name = "mem_clock";
};

template <>
struct RuleSettings<policy::AgingRule> {
    static constexpr const char* name = "mem_lru";
};

template <>
struct RuleSettings<policy::TenantShareRule> {
    static constexpr const char* name = "mem_fair";
};

// How many tenants one channel may declare (the `tenant` event): the
// groups a share between groups counts, less group 0, which holds the pages
// before the first tenant (all of them when the mechanism declares none).
inline constexpr std::uint32_t max_tenants = policy::TenantShareRule::max_groups - 1;

// One region's policy and what the mechanism has been told. The policy's
// books say which page every frame should hold; `told` is what the
// mechanism holds there as far as it told us: what the last Decisions said,
// minus the pages it released itself. A Commit sends the difference,
// evictions first.
// What a Pager does beyond its rule.
struct PagerOptions {
    // Readahead: on a fault of page p, pages p + 1 to p + readahead that
    // have no frame are prefetched too, onto frames that are free (never by
    // evicting: a guess does not push out a page in use). 0: none.
    std::uint32_t readahead = 0;
};

// The most pages a fault may prefetch.
inline constexpr std::int64_t max_readahead = 64;

template <typename Rule>
class Pager {
public:
    using Event = milk::mem::Event;
    using Decision = milk::mem::Decision;

    static milk::Result<Pager> try_create(std::uint32_t pages, std::uint32_t frames, Rule rule,
                                          PagerOptions options = {}) {
        auto policy = MILK_TRY(policy::PolicyOf<Rule>::try_create({pages, frames}, std::move(rule)));
        auto told = MILK_TRY(
            milk::FixedArray<policy::EntityId>::try_create(frames, milk::FixedArray<policy::EntityId>::Fill::Zero));
        for (std::uint32_t frame = 0; frame < frames; ++frame) told[frame] = policy::no_entity;
        auto changed = MILK_TRY(milk::FixedArray<ChangedFrames>::try_create((frames + 63) / 64,
                                                                             milk::FixedArray<ChangedFrames>::Fill::Zero));
        milk::FixedArray<PrefetchMark> prefetched;
        if (options.readahead != 0)
            prefetched = MILK_TRY(milk::FixedArray<PrefetchMark>::try_create(pages, milk::FixedArray<PrefetchMark>::Fill::Zero));
        Pager pager(std::move(policy), std::move(told), std::move(changed));
        pager.m_readahead = options.readahead;
        pager.m_prefetched = std::move(prefetched);
        return pager;
    }

    // One event of a batch. An error means the mechanism broke the
    // contract's rules (a page outside the region, a range past its end, an
    // accessed page that was never mapped).
    [[nodiscard]] milk::Result<void> apply(const milk::mem::Event& event, policy::Nanoseconds now) {
        if (now < m_now) return violation("mem: the mechanism's clock went back", 0);
        m_now = now;
        policy::Decision room[policy::DecisionSink::per_event];
        policy::DecisionSink sink(room);
        const policy::EntityId page = event.page;
        switch (event.kind) {
        case EventKind::none: return {};
        case EventKind::fault: {
            if (page >= m_policy.entity_capacity()) return violation("mem: a fault outside the region", page);
            // A thread waits for it: whatever placed it, its map is no guess.
            if (m_readahead != 0) m_prefetched[page].set = false;
            const policy::Phase phase = m_policy.phase_of(page);
            // Two threads touching one page report it twice, and a fault may
            // race the map decided for it: a page the books already map
            // waits for that map, it needs no second frame.
            if (phase == policy::Phase::Placed) return {};
            if (phase == policy::Phase::Absent) {
                // A page arrives in its tenant, with the tenant's weight.
                const std::uint32_t tenant = tenant_of(page);
                MILK_TRY(violation_if_failed(m_policy.arrive(page, m_weights[tenant], now, tenant)));
            }
            MILK_TRY(noted(m_policy.ready(page, policy::Urgency::Now, now, sink), sink));
            return prefetch_after(page, now);
        }
        case EventKind::accessed:
            if (page >= m_policy.entity_capacity()) return violation("mem: an accessed page outside the region", page);
            // A sample taken before an eviction the mechanism has not applied
            // yet: nothing to learn.
            if (m_policy.phase_of(page) != policy::Phase::Placed) return {};
            return violation_if_failed(m_policy.accessed(page, now));
        case EventKind::round: return violation_if_failed(m_policy.round(now));
        case EventKind::pressure:
            if (event.count == 0 || event.count > m_told.size())
                return violation("mem: pressure for no frames, or more than the pool", event.count);
            for (std::uint32_t freed = 0; freed < event.count; ++freed) {
                MILK_TRY(noted(m_policy.reclaim(now, sink), sink));
                sink.clear();
            }
            return {};
        case EventKind::tenant: {
            if (page >= m_policy.entity_capacity()) return violation("mem: a tenant outside the region", page);
            if (event.count == 0 || event.count > policy::TenantShareRule::max_weight)
                return violation("mem: a tenant's weight must be 1 to 2^20", page);
            if (m_tenants == max_tenants) return violation("mem: more tenants than a memory manager takes", page);
            if (m_tenants > 0 && page <= m_first_pages[m_tenants]) return violation("mem: tenants out of order", page);
            // Its pages must not have arrived yet: they would count in the
            // tenant before.
            for (std::uint32_t at = page; at < m_policy.entity_capacity(); ++at)
                if (m_policy.phase_of(at) != policy::Phase::Absent)
                    return violation("mem: a tenant declared after a fault of its pages", at);
            ++m_tenants;
            m_first_pages[m_tenants] = page;
            m_weights[m_tenants] = event.count;
            return {};
        }
        case EventKind::release: {
            const std::uint64_t end = std::uint64_t{page} + event.count;
            if (event.count == 0 || end > m_policy.entity_capacity())
                return violation("mem: a released range outside the region", page);
            for (std::uint64_t released = page; released < end; ++released) {
                const auto entity = static_cast<policy::EntityId>(released);
                // The mechanism dropped it itself: no frame holds it any
                // more, and no eviction of it is owed. Where the mechanism
                // was told it is on a frame the books have moved it from in
                // this batch, that frame is one the batch changed.
                for_each_changed([&](std::uint32_t frame) {
                    if (m_told[frame] == entity) m_told[frame] = policy::no_entity;
                });
                if (m_policy.phase_of(entity) != policy::Phase::Placed) continue;
                const policy::UnitId frame = m_policy.unit_of(entity);
                if (frame < m_told.size() && m_told[frame] == entity) m_told[frame] = policy::no_entity;
                mark_changed(frame);
                MILK_TRY(noted(m_policy.block(entity, now, sink), sink));
                sink.clear();
            }
            return {};
        }
        }
        return violation("mem: an event of no known kind", static_cast<std::uint32_t>(event.kind));
    }

    // The decisions that take the mechanism from `told` to the policy's
    // books: every eviction first (a frame must be empty before a page is
    // mapped onto it), then the mappings, each in frame order. Afterwards
    // `told` is the books. Only the frames the batch's decisions touched
    // can differ, so only they are visited: a fault's batch changes one or
    // two frames of thousands, and the kernel's fault handler commits once
    // a fault.
    template <typename Emit>
    void commit(Emit&& emit) {
        for_each_changed([&](std::uint32_t frame) {
            const policy::EntityId was = m_told[frame];
            if (was != policy::no_entity && was != m_policy.entity_on(frame))
                emit(milk::mem::Decision{DecisionKind::evict, was, frame});
        });
        for_each_changed([&](std::uint32_t frame) {
            const policy::EntityId now_on = m_policy.entity_on(frame);
            if (now_on != policy::no_entity && now_on != m_told[frame]) {
                const bool guessed = m_readahead != 0 && m_prefetched[now_on].set;
                emit(milk::mem::Decision{guessed ? DecisionKind::prefetch : DecisionKind::map, now_on, frame});
            }
            if (now_on != policy::no_entity && m_readahead != 0) m_prefetched[now_on].set = false;
            m_told[frame] = now_on;
        });
        for (std::size_t word = 0; word < m_changed.size(); ++word) m_changed[word].bits = 0;
    }

    [[nodiscard]] const policy::PolicyOf<Rule>& policy() const { return m_policy; }
    // The tenant a page counts in: 0 before the first `tenant` event's
    // page, else the number of the last tenant declared at or below it.
    [[nodiscard]] std::uint32_t tenant_of(std::uint32_t page) const {
        std::uint32_t tenant = m_tenants;
        while (tenant > 0 && page < m_first_pages[tenant]) --tenant;
        return tenant;
    }

private:
    // A word of the bitmap of frames changed since the last commit. A type of
    // its own rather than a bare std::uint64_t: milk.ko's core instantiates
    // FixedArray<std::uint64_t> too, and two objects of the module with one
    // template function not inlined break its link (docs/kernel.md, "C++
    // inside the module").
    struct ChangedFrames {
        std::uint64_t bits;
    };
    // Whether a page's next map is a prefetch (readahead placed it, no
    // thread waits for it). Its own type for the same reason.
    struct PrefetchMark {
        bool set;
    };

    Pager(policy::PolicyOf<Rule> policy, milk::FixedArray<policy::EntityId> told,
          milk::FixedArray<ChangedFrames> changed)
        : m_policy(std::move(policy)), m_told(std::move(told)), m_changed(std::move(changed)) {
        for (std::uint32_t& weight : m_weights) weight = policy::default_weight;
    }

    static milk::Result<void> violation(const char* what, std::uint32_t detail) {
        return milk::Error{milk::ErrorCode::ProtocolViolation, what, detail};
    }
    // A prefetch is a page readied without a fault, placed only onto a free
    // frame (Urgency::CanWait with a unit free places it at once).
    milk::Result<void> prefetch_after(std::uint32_t page, policy::Nanoseconds now) {
        for (std::uint32_t ahead = 1; ahead <= m_readahead; ++ahead) {
            const std::uint64_t next = std::uint64_t{page} + ahead;
            if (next >= m_policy.entity_capacity() || !m_policy.has_free_unit()) return {};
            const auto entity = static_cast<policy::EntityId>(next);
            const policy::Phase phase = m_policy.phase_of(entity);
            if (phase != policy::Phase::Absent && phase != policy::Phase::Blocked) continue;
            if (phase == policy::Phase::Absent) {
                const std::uint32_t tenant = tenant_of(entity);
                MILK_TRY(violation_if_failed(m_policy.arrive(entity, m_weights[tenant], now, tenant)));
            }
            policy::Decision room[policy::DecisionSink::per_event];
            policy::DecisionSink sink(room);
            MILK_TRY(noted(m_policy.ready(entity, policy::Urgency::CanWait, now, sink), sink));
            m_prefetched[entity].set = true;
        }
        return {};
    }

    void mark_changed(policy::UnitId frame) {
        if (frame < m_told.size()) m_changed[frame / 64].bits |= std::uint64_t{1} << (frame % 64);
    }
    // The frames of a policy call's decisions are the ones its event changed.
    milk::Result<void> noted(milk::Result<void> result, const policy::DecisionSink& sink) {
        for (const policy::Decision& decision : sink.decisions()) mark_changed(decision.unit);
        return violation_if_failed(std::move(result));
    }
    template <typename Visit>
    void for_each_changed(Visit&& visit) const {
        for (std::size_t word = 0; word < m_changed.size(); ++word) {
            for (std::uint64_t bits = m_changed[word].bits; bits != 0; bits &= bits - 1)
                visit(static_cast<std::uint32_t>(word * 64 + static_cast<std::size_t>(__builtin_ctzll(bits))));
        }
    }

    static milk::Result<void> violation_if_failed(milk::Result<void> result) {
        if (result.ok()) return result;
        return milk::Error{milk::ErrorCode::ProtocolViolation, result.error().what, result.error().detail};
    }

    policy::PolicyOf<Rule> m_policy;
    milk::FixedArray<policy::EntityId> m_told;
    milk::FixedArray<ChangedFrames> m_changed;
    std::uint32_t m_readahead = 0;
    milk::FixedArray<PrefetchMark> m_prefetched;  // empty without readahead
    // Tenants (the `tenant` event): each one's first page and weight, in
    // order (tenant 0, the pages before the first declared, weighs the
    // default). A tenant runs to the next one's first page, so a page's is
    // found by a scan of at most max_tenants entries, nothing per page.
    std::array<std::uint32_t, max_tenants + 1> m_first_pages{};
    std::array<std::uint32_t, max_tenants + 1> m_weights{};
    std::uint32_t m_tenants = 0;
    policy::Nanoseconds m_now = 0;
};

template <typename Rule>
class MemoryManager {
public:
    using Contract = MemContract::Contract;
    static constexpr const char* name = RuleSettings<Rule>::name;
    static constexpr milk::PlacementSet placements = milk::every_placement;
    // The books live in serve's frame, for the channel's life.
    static constexpr milk::Statefulness statefulness = milk::Statefulness::Stateless;
    static constexpr milk::SettingNames setting_names{"max_pages", "max_frames", "readahead"};
    // In a process of its own, the policy locks its memory: a page fault in
    // the pager would wait on itself.
    static constexpr milk::MemoryResidence residence = milk::MemoryResidence::Pinned;

    [[nodiscard]] static milk::Result<MemoryManager> try_create(const milk::Settings& settings) {
        const std::int64_t pages = settings.get_or("max_pages", default_max_pages);
        if (pages < 2 || pages > (std::int64_t{1} << 30))
            return milk::Error{milk::ErrorCode::InvalidArgument, "mem: `max_pages` must be 2 to 2^30", pages};
        const std::int64_t frames = settings.get_or("max_frames", default_max_frames);
        if (frames < 1 || frames > pages)
            return milk::Error{milk::ErrorCode::InvalidArgument, "mem: `max_frames` must be 1 to `max_pages`", frames};
        const std::int64_t readahead = settings.get_or("readahead", 0);
        if (readahead < 0 || readahead > max_readahead)
            return milk::Error{milk::ErrorCode::InvalidArgument, "mem: `readahead` must be 0 to 64", readahead};
        return MemoryManager(static_cast<std::uint32_t>(pages), static_cast<std::uint32_t>(frames),
                             PagerOptions{static_cast<std::uint32_t>(readahead)});
    }

    // Hello, then Welcome (or Refused, for a region or pool beyond the
    // settings or the memory), then batches until Bye.
    [[nodiscard]] milk::Result<void> serve(ServerStart&& server) {
        return policy::BatchServer<MemShape, Pager<Rule>>::serve(
            std::move(server),
            [this](const MemContract::Hello& hello) -> std::optional<Pager<Rule>> {
                if (hello.pages < 1 || hello.pages > m_max_pages || hello.frames < 1 || hello.frames > m_max_frames)
                    return std::nullopt;
                auto made = Pager<Rule>::try_create(hello.pages, hello.frames, Rule{}, m_options);
                if (!made.ok()) return std::nullopt;
                return std::move(made).value();
            },
            [this] { return MemContract::Refused{m_max_pages, m_max_frames}; }, m_batches);
    }

    // What the last channel did.
    [[nodiscard]] std::uint64_t batches() const { return m_batches; }

    // The books for a region of `pages` pages on `frames` frames, without a
    // channel: what milk.ko's fault handler calls directly when the policy
    // is placed in the module (and every region's fallback, mem_fifo's).
    using DirectPager = Pager<Rule>;
    [[nodiscard]] milk::Result<Pager<Rule>> direct_pager(std::uint32_t pages, std::uint32_t frames) const {
        if (pages < 1 || pages > m_max_pages || frames < 1 || frames > m_max_frames)
            return milk::Error{milk::ErrorCode::InvalidArgument,
                               "mem: the region is beyond the policy's max_pages or max_frames", pages};
        return Pager<Rule>::try_create(pages, frames, Rule{}, m_options);
    }

private:
    MemoryManager(std::uint32_t pages, std::uint32_t frames, PagerOptions options)
        : m_max_pages(pages), m_max_frames(frames), m_options(options) {}

    std::uint32_t m_max_pages;
    std::uint32_t m_max_frames;
    PagerOptions m_options;
    std::uint64_t m_batches = 0;
};

using FifoMemoryManager = MemoryManager<policy::FifoRule>;
using ClockMemoryManager = MemoryManager<policy::ClockRule>;
using LruMemoryManager = MemoryManager<policy::AgingRule>;
using FairMemoryManager = MemoryManager<policy::TenantShareRule>;

static_assert(milk::Component<FifoMemoryManager>);
static_assert(milk::Component<ClockMemoryManager>);
static_assert(milk::Component<LruMemoryManager>);
static_assert(milk::Component<FairMemoryManager>);

}  // namespace components::mem
