// examples/directory: an administrator's session against the directory
// component (components/directory), shared by every program that runs it
// (tests/components/directory_test.cpp in this process and in another, and
// the VM test against milk.ko), so that each placement runs the same client.
//
// The session: a login with a wrong proof (Refused, back in Ready), one with
// the right proof (Granted, into Admin through the `Auth` sub-protocol),
// three Registers (one of a name already there), a Lookup, a Deregister, a
// Lookup of the name just removed, and then a hang-up (`close;`) instead of
// Bye. Every answer is checked; a wrong one counts as a mismatch.
#pragma once

#include "directory.hpp"  // generated from contracts/directory.contract

#include <cstdint>
#include <optional>
#include <utility>

namespace examples::directory::client {

namespace Registry = examples::directory::Registry;

struct AdminReport {
    std::uint32_t answers = 0;     // answers taken
    std::uint32_t mismatches = 0;  // answers other than expected
};

namespace detail {

// Login with `proof(nonce)`: the Admin endpoint when Granted, or the Ready
// endpoint back when Refused.
struct LoginOutcome {
    std::optional<Registry::Client<Registry::state::Admin>> admin;
    std::optional<Registry::Client<Registry::state::Ready>> ready;
};

template <typename Proof>
milk::Result<LoginOutcome> log_in(Registry::Client<Registry::state::Ready>&& ready, Proof&& proof, AdminReport& report) {
    auto ask = MILK_TRY(std::move(ready).send(Registry::Login{1}));
    LoginOutcome outcome;
    MILK_TRY(std::move(ask).receive(
        [&](Registry::Challenge&& challenge,
            Registry::Client<Registry::state::Ready_Login_Answer>&& answer) -> milk::Result<void> {
            ++report.answers;
            auto decided = MILK_TRY(std::move(answer).send(Registry::Proof{proof(challenge.nonce)}));
            return std::move(decided).receive(
                [&](Registry::Granted&& granted, Registry::Client<Registry::state::Admin>&& admin) {
                    ++report.answers;
                    if (granted.rights != (Rights::read | Rights::write | Rights::admin)) ++report.mismatches;
                    outcome.admin.emplace(std::move(admin));
                },
                [&](Registry::Refused&& refused, Registry::Client<Registry::state::Ready>&& back) {
                    ++report.answers;
                    if (refused.status != Status::denied) ++report.mismatches;
                    outcome.ready.emplace(std::move(back));
                });
        }));
    return outcome;
}

// A Register or Deregister's Result in Admin.
template <typename Waiting>
milk::Result<Registry::Client<Registry::state::Admin>> result_is(Waiting&& waiting, Status expected,
                                                                 AdminReport& report) {
    std::optional<Registry::Client<Registry::state::Admin>> admin;
    MILK_TRY(std::move(waiting).receive([&](Registry::Result&& result, Registry::Client<Registry::state::Admin>&& next) {
        ++report.answers;
        if (result.status != expected) ++report.mismatches;
        admin.emplace(std::move(next));
    }));
    return std::move(*admin);
}

// A Lookup in Admin: `node` and `rights` expected, or Missing when node is 0.
inline milk::Result<Registry::Client<Registry::state::Admin>> lookup_is(Registry::Client<Registry::state::Admin>&& admin,
                                                                        std::uint64_t name, std::uint64_t node,
                                                                        Rights rights, AdminReport& report) {
    auto waiting = MILK_TRY(std::move(admin).send(Registry::Lookup{name}));
    std::optional<Registry::Client<Registry::state::Admin>> next;
    MILK_TRY(std::move(waiting).receive(
        [&](Registry::Found&& found, Registry::Client<Registry::state::Admin>&& after) {
            ++report.answers;
            if (node == 0 || found.node != node || found.rights != rights) ++report.mismatches;
            next.emplace(std::move(after));
        },
        [&](Registry::Missing&& missing, Registry::Client<Registry::state::Admin>&& after) {
            ++report.answers;
            if (node != 0 || missing.status != Status::not_found) ++report.mismatches;
            next.emplace(std::move(after));
        }));
    return std::move(*next);
}

}  // namespace detail

// The administrator's session from Admin on (after a login, or handed over
// in the middle): registers, looks up, deregisters, then hangs up.
inline milk::Result<AdminReport> administer_from(Registry::Client<Registry::state::Admin>&& admin, AdminReport report) {
    using detail::lookup_is;
    using detail::result_is;
    auto session = MILK_TRY(result_is(MILK_TRY(std::move(admin).send(Registry::Register{10, 100, Rights::read})),
                                      Status::ok, report));
    session = MILK_TRY(result_is(
        MILK_TRY(std::move(session).send(Registry::Register{20, 200, Rights::read | Rights::write})), Status::ok, report));
    session = MILK_TRY(result_is(MILK_TRY(std::move(session).send(Registry::Register{10, 999, Rights::admin})),
                                 Status::exists, report));
    session = MILK_TRY(lookup_is(std::move(session), 20, 200, Rights::read | Rights::write, report));
    session = MILK_TRY(result_is(MILK_TRY(std::move(session).send(Registry::Deregister{10})), Status::ok, report));
    session = MILK_TRY(lookup_is(std::move(session), 10, 0, Rights{}, report));
    // `close;` in Admin: hang up instead of saying Bye.
    MILK_TRY(std::move(session).close());
    return report;
}

// The whole session from Ready: a refused login, a granted one, then
// administer_from. `secret` is the server's (its `secret` setting).
inline milk::Result<AdminReport> administer(Registry::Client<Registry::state::Ready>&& ready, std::uint64_t secret) {
    AdminReport report;
    auto refused = MILK_TRY(detail::log_in(std::move(ready), [](std::uint64_t nonce) { return nonce; }, report));
    if (refused.admin || !refused.ready) {
        ++report.mismatches;
        if (refused.admin) MILK_TRY(std::move(*refused.admin).close());
        return report;
    }
    auto granted = MILK_TRY(
        detail::log_in(std::move(*refused.ready), [secret](std::uint64_t nonce) { return nonce ^ secret; }, report));
    if (!granted.admin) {
        ++report.mismatches;
        if (granted.ready) MILK_TRY(std::move(*granted.ready).close());
        return report;
    }
    return administer_from(std::move(*granted.admin), report);
}

// What a complete session must have seen: 2 login answers each for two
// logins, 3 Registers, 2 Lookups, 1 Deregister.
inline constexpr std::uint32_t session_answers = 4 + 3 + 2 + 1;

}  // namespace examples::directory::client
