// The module's registration entry of a component, from its C++ type alone.
//
// milkc --emit kernel-registry writes one line per component of the list:
//
//     component_entry<components::echo::Echo>("echo", examples_pingpong_PingPong__kcontract)
//
// where the second argument is the contract's descriptor from its .kstub.h.
// component_entry() decides how the component runs:
//
//   * StepRunner, when the contract is per-message (the descriptor's hosting,
//     computed by milkc from the state machine) and the component has a
//     step: one step per client message, inline in MILK_IOC_KICK, or in a
//     loop in the channel's serving thread when the client asked for one.
//   * ServeRunner otherwise: milk::serve_channel (the component's serve, or
//     its step in a loop) in the channel's serving thread, where a receive
//     sleeps until the next message.
//
// Either way the component object is built per channel with
// C::try_create(settings), from the settings MILK_IOC_OPEN_CHANNEL brought,
// exactly as the user-space host builds it.
#pragma once

#include "component.hpp"
#include "owned.hpp"
#include "session_host.hpp"

#include <milk/component.hpp>
#include <milk/result.hpp>

#include <concepts>
#include <optional>
#include <utility>

namespace milk::kernel {

// A step component: owns the host, the component and the endpoint of the
// state where the client speaks next.
template <milk::Component C>
class StepRunner final : public ComponentRunner {
    using Endpoint = typename C::Contract::ServerEndpoint;

public:
    explicit StepRunner(C&& component) : m_component(std::move(component)) {}

    [[nodiscard]] static Result<Owned<ComponentRunner>> create(const Settings& settings) {
        return start(MILK_TRY(C::try_create(settings)));
    }

    // A component that moved here from another placement: its state from
    // the snapshot (checked as untrusted input by restore_snapshot), its
    // channel new, in the state where the client speaks, which is where it
    // was cut.
    [[nodiscard]] static Result<Owned<ComponentRunner>> restore(const Settings& settings,
                                                                std::span<const std::byte> snapshot) {
        return start(MILK_TRY(milk::restore_snapshot<C>(settings, snapshot)));
    }

    [[nodiscard]] Result<std::size_t> snapshot(std::span<std::byte> buffer) const override {
        return milk::take_snapshot(m_component, buffer);
    }

    [[nodiscard]] Result<void> on_message(ChannelContext& channel) override {
        // The validator let the message through, so the tracked state had a
        // client message to take: a component that ended has no endpoint,
        // and the validator rejects everything after `end`.
        if (!m_endpoint)
            return Error{ErrorCode::ProtocolViolation, "a kernel component got a message after it ended", 0};
        m_host.bind(channel);
        return run_step();
    }

    [[nodiscard]] Result<void> run(ChannelContext& channel) override {
        m_host.bind(channel);
        while (m_endpoint) MILK_TRY(run_step());
        return {};
    }

private:
    [[nodiscard]] static Result<Owned<ComponentRunner>> start(C&& component) {
        auto runner = MILK_TRY(Owned<StepRunner>::try_create(std::move(component)));
        auto end = MILK_TRY(make_session_end(runner->m_host));
        runner->m_endpoint.emplace(C::Contract::server(std::move(end)));
        return Owned<ComponentRunner>(std::move(runner));
    }

    [[nodiscard]] Result<void> run_step() {
        Endpoint endpoint = std::move(*m_endpoint);
        m_endpoint.reset();
        // On an error, or after `end`, the endpoint (and with it the
        // transport) is gone.
        auto next = m_component.step(std::move(endpoint));
        if (!next.ok()) return session_failure(m_host, next.error());
        if (next.value()) m_endpoint.emplace(std::move(*next.value()));
        return {};
    }

    // Declared first: destroyed last, after the endpoint and its buffers.
    SessionHost m_host;
    C m_component;
    std::optional<Endpoint> m_endpoint;
};

// Any component, in the channel's serving thread: milk::serve_channel runs
// its serve function (or its step in a loop) once, to the session's end.
template <milk::Component C>
class ServeRunner final : public ComponentRunner {
public:
    explicit ServeRunner(C&& component) : m_component(std::move(component)) {}

    [[nodiscard]] static Result<Owned<ComponentRunner>> create(const Settings& settings) {
        auto component = MILK_TRY(C::try_create(settings));
        auto runner = MILK_TRY(Owned<ServeRunner>::try_create(std::move(component)));
        return Owned<ComponentRunner>(std::move(runner));
    }

    // Never called: the channel gives a Hosting::Thread component a thread.
    [[nodiscard]] Result<void> on_message(ChannelContext&) override {
        return Error{ErrorCode::InvalidArgument, "this kernel component runs only in a serving thread", 0};
    }

    // A whole session in one call has no place to cut it.
    [[nodiscard]] Result<std::size_t> snapshot(std::span<std::byte>) const override {
        return Error{ErrorCode::InvalidArgument, "a component without a step cannot be parked", 0};
    }

    [[nodiscard]] Result<void> run(ChannelContext& channel) override {
        m_host.bind(channel);
        auto end = MILK_TRY(make_session_end(m_host));
        auto served = milk::serve_channel(m_component, C::Contract::server(std::move(end)));
        if (!served.ok()) return session_failure(m_host, served.error());
        return {};
    }

private:
    // Outlives every buffer the component left behind.
    SessionHost m_host;
    C m_component;
};

// The host refuses a config that sets a name the component does not
// declare (milk::SettingNames); a direct factory, which user space reaches
// without the host, refuses it here, before the component sees the rest.
template <milk::Component C>
[[nodiscard]] Result<void> check_setting_names(const Settings& settings) {
    for (std::size_t i = 0; i < settings.size(); ++i)
        if (!C::setting_names.contains(settings.name_of(i)))
            return Error{ErrorCode::InvalidArgument, "a setting the component does not declare", static_cast<std::int64_t>(i)};
    return {};
}

// A scheduler component (components/sched) offers its books without a
// channel; the scheduler mechanism then calls them directly.
template <typename C>
concept DirectScheduler = requires(const C& component, std::uint32_t count) {
    typename C::DirectBooks;
    { component.direct_books(count, count) } -> std::same_as<Result<typename C::DirectBooks>>;
};

template <DirectScheduler C>
class DirectSchedRunner final : public DirectSchedPolicy {
    using Books = typename C::DirectBooks;

public:
    explicit DirectSchedRunner(Books&& books) : m_books(std::move(books)) {}

    [[nodiscard]] static Result<Owned<DirectSchedPolicy>> create(const Settings& settings, std::uint32_t cpus,
                                                                 std::uint32_t max_tasks) {
        MILK_TRY(check_setting_names<C>(settings));
        const C component = MILK_TRY(C::try_create(settings));
        auto books = MILK_TRY(component.direct_books(cpus, max_tasks));
        auto runner = MILK_TRY(Owned<DirectSchedRunner>::try_create(std::move(books)));
        return Owned<DirectSchedPolicy>(std::move(runner));
    }

    [[nodiscard]] Result<void> event(std::uint8_t kind, std::uint16_t cpu, std::uint32_t task, std::uint32_t weight,
                                     std::uint64_t now) override {
        // The kind is checked by the books (an unknown one is an error).
        using Event = typename Books::Event;
        return m_books.apply(Event{static_cast<decltype(Event::kind)>(kind), cpu, task, weight}, now);
    }

    [[nodiscard]] std::size_t decide(DirectDecision* out, std::size_t capacity) override {
        std::size_t count = 0;
        m_books.commit([&](const typename Books::Decision& decision) {
            if (count < capacity) out[count++] = DirectDecision{static_cast<std::uint8_t>(decision.kind), decision.cpu, decision.task};
        });
        return count;
    }

private:
    Books m_books;
};

template <typename C>
constexpr auto direct_sched_factory() -> Result<Owned<DirectSchedPolicy>> (*)(const Settings&, std::uint32_t,
                                                                               std::uint32_t) {
    if constexpr (DirectScheduler<C>) return &DirectSchedRunner<C>::create;
    else return nullptr;
}

// A memory manager component (components/mem) offers its books without a
// channel; the memory mechanism's fault handler then calls them directly.
template <typename C>
concept DirectPager = requires(const C& component, std::uint32_t count) {
    typename C::DirectPager;
    { component.direct_pager(count, count) } -> std::same_as<Result<typename C::DirectPager>>;
};

template <DirectPager C>
class DirectMemRunner final : public DirectMemPolicy {
    using Pager = typename C::DirectPager;

public:
    explicit DirectMemRunner(Pager&& pager) : m_pager(std::move(pager)) {}

    [[nodiscard]] static Result<Owned<DirectMemPolicy>> create(const Settings& settings, std::uint32_t pages,
                                                               std::uint32_t frames) {
        MILK_TRY(check_setting_names<C>(settings));
        const C component = MILK_TRY(C::try_create(settings));
        auto pager = MILK_TRY(component.direct_pager(pages, frames));
        auto runner = MILK_TRY(Owned<DirectMemRunner>::try_create(std::move(pager)));
        return Owned<DirectMemPolicy>(std::move(runner));
    }

    [[nodiscard]] Result<void> event(std::uint8_t kind, std::uint32_t page, std::uint32_t count,
                                     std::uint64_t now) override {
        // The kind is checked by the books (an unknown one is an error).
        using Event = typename Pager::Event;
        return m_pager.apply(Event{static_cast<decltype(Event::kind)>(kind), page, count}, now);
    }

    [[nodiscard]] std::size_t decide(DirectMemDecision* out, std::size_t capacity) override {
        std::size_t count = 0;
        m_pager.commit([&](const typename Pager::Decision& decision) {
            if (count < capacity) out[count] = DirectMemDecision{static_cast<std::uint8_t>(decision.kind), decision.page, decision.frame};
            ++count;
        });
        return count;
    }

private:
    Pager m_pager;
};

template <typename C>
constexpr auto direct_mem_factory() -> Result<Owned<DirectMemPolicy>> (*)(const Settings&, std::uint32_t,
                                                                          std::uint32_t) {
    if constexpr (DirectPager<C>) return &DirectMemRunner<C>::create;
    else return nullptr;
}

// A block service component (components/blk) offers its store without a
// channel; the block device then calls it directly.
template <typename C>
concept DirectBlockStore = requires(C component) {
    typename C::DirectStore;
    { std::move(component).direct_store() } -> std::same_as<typename C::DirectStore>;
};

template <DirectBlockStore C>
class DirectBlkRunner final : public DirectBlkService {
    using Store = typename C::DirectStore;

public:
    explicit DirectBlkRunner(Store&& store) : m_store(std::move(store)) {}

    [[nodiscard]] static Result<Owned<DirectBlkService>> create(const Settings& settings) {
        MILK_TRY(check_setting_names<C>(settings));
        C component = MILK_TRY(C::try_create(settings));
        auto runner = MILK_TRY(Owned<DirectBlkRunner>::try_create(std::move(component).direct_store()));
        return Owned<DirectBlkService>(std::move(runner));
    }

    [[nodiscard]] std::uint64_t blocks() const override { return m_store.blocks(); }
    [[nodiscard]] std::uint32_t block_size() const override { return m_store.block_size(); }
    [[nodiscard]] Result<void> read(std::uint64_t offset, std::span<std::byte> into) override {
        return m_store.read_bytes(offset, into);
    }
    [[nodiscard]] Result<void> write(std::uint64_t offset, std::span<const std::byte> from) override {
        return m_store.write_bytes(offset, from);
    }
    [[nodiscard]] Result<void> flush() override { return m_store.flush(); }
    [[nodiscard]] Result<void> discard(std::uint64_t offset, std::uint64_t bytes) override {
        return m_store.discard_bytes(offset, bytes);
    }

private:
    Store m_store;
};

template <typename C>
constexpr auto direct_blk_factory() -> Result<Owned<DirectBlkService>> (*)(const Settings&) {
    if constexpr (DirectBlockStore<C>) return &DirectBlkRunner<C>::create;
    else return nullptr;
}

// Not constexpr on purpose: reached while the registry is constant-
// initialised, it makes the build fail with its name as the message.
inline void a_contract_has_more_bytes_fields_per_message_than_milk_ko_takes() {}

template <milk::Component C>
constexpr ComponentEntry component_entry(const char* name, const milk_kcontract& contract) {
    static_assert(C::placements.contains(Placement::Kernel),
                  "a component in milk.ko's list must support the kernel placement");
    if (contract.max_handles > max_handles_per_message)
        a_contract_has_more_bytes_fields_per_message_than_milk_ko_takes();
    if constexpr (milk::StepComponent<C>) {
        if (contract.hosting == MILK_KHOSTING_PER_MESSAGE)
            return ComponentEntry{name, &contract, Hosting::PerMessage, &StepRunner<C>::create, &StepRunner<C>::restore,
                                  direct_sched_factory<C>(), direct_mem_factory<C>(), direct_blk_factory<C>()};
    }
    return ComponentEntry{name, &contract, Hosting::Thread, &ServeRunner<C>::create, nullptr, direct_sched_factory<C>(),
                          direct_mem_factory<C>(), direct_blk_factory<C>()};
}

}  // namespace milk::kernel
