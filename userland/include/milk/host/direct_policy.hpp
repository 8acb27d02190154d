// A memory manager's policy called directly, in the mechanism's own thread,
// without a channel: what a memory manager placed `inproc` offers the
// user-space mechanism (milk::mem::ManagedPool), as milk.ko's fault handler
// calls one placed `kernel` (kernel-stubs/core/component.hpp,
// DirectMemPolicy, the same shape). The component is the same; only the hop
// to another thread is gone, which is most of a fault's cost when the policy
// sits in the workload's process anyway (docs/mem.md, "Measured").
//
// Numbers are contracts/mem.contract's (an event's and a decision's kind),
// so that this header needs no generated code: ComponentType keeps a
// factory of these for every component that has `direct_pager`.
#pragma once

#include <milk/component.hpp>
#include <milk/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace milk::host {

struct DirectMemDecision {
    std::uint8_t kind;
    std::uint32_t page;
    std::uint32_t frame;
};

class DirectMemPolicy {
public:
    virtual ~DirectMemPolicy() = default;
    // One event of a batch. An error: the policy refuses it (the mechanism
    // broke its rules, or the policy its own); the mechanism falls back.
    [[nodiscard]] virtual Result<void> event(std::uint8_t kind, std::uint32_t page, std::uint32_t count,
                                             std::uint64_t now) = 0;
    // The batch's decisions, evictions first, at most `capacity` into `out`;
    // how many there were (more than `capacity`: the rest were lost).
    [[nodiscard]] virtual std::size_t decide(DirectMemDecision* out, std::size_t capacity) = 0;
};

// A components::mem::Pager behind the interface.
template <typename Pager>
class DirectPagerPolicy final : public DirectMemPolicy {
public:
    explicit DirectPagerPolicy(Pager&& pager) : m_pager(std::move(pager)) {}

    [[nodiscard]] Result<void> event(std::uint8_t kind, std::uint32_t page, std::uint32_t count,
                                     std::uint64_t now) override {
        using Event = typename Pager::Event;
        // An unknown kind is the Pager's to refuse.
        return m_pager.apply(Event{static_cast<decltype(Event::kind)>(kind), page, count}, now);
    }

    [[nodiscard]] std::size_t decide(DirectMemDecision* out, std::size_t capacity) override {
        std::size_t count = 0;
        m_pager.commit([&](const typename Pager::Decision& decision) {
            if (count < capacity) out[count] = {static_cast<std::uint8_t>(decision.kind), decision.page, decision.frame};
            ++count;
        });
        return count;
    }

private:
    Pager m_pager;
};

// The factory ComponentType keeps for a memory manager: the component built
// from the instance's settings, its books for `pages` and `frames`.
template <typename C>
Result<std::unique_ptr<DirectMemPolicy>> make_direct_mem(const Settings& settings, std::uint32_t pages,
                                                         std::uint32_t frames) {
    auto component = C::try_create(settings);
    if (!component.ok()) return component.error();
    auto pager = component.value().direct_pager(pages, frames);
    if (!pager.ok()) return pager.error();
    return std::unique_ptr<DirectMemPolicy>(
        std::make_unique<DirectPagerPolicy<typename C::DirectPager>>(std::move(pager).value()));
}

}  // namespace milk::host
