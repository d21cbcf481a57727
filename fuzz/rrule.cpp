// Recurrence rules (providers/calendar/recurrence.hpp) as a tool argument or a CalDAV server
// gives them: the first line is the rule, checked as create/update do, then expanded over a
// window, its end computed and the rule split as "this and following" does; the second line is
// an occurrence stamp as ids carry it.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "providers/calendar/recurrence.hpp"
#include "server/registry.hpp"

using namespace concierge;
namespace cal = concierge::providers::calendar;
using concierge::providers::Millis;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const date::time_zone* zones[] = {date::locate_zone("UTC"), date::locate_zone("Europe/Berlin"),
                                           date::locate_zone("America/St_Johns"), date::locate_zone("Pacific/Apia")};
  FuzzedDataProvider in(data, size);
  const date::time_zone* tz = zones[in.ConsumeIntegralInRange<size_t>(0, 3)];
  // A start between 1970 and 2100, a duration up to a week, a window up to two years.
  const Millis day = 86'400'000;
  Millis start = in.ConsumeIntegralInRange<Millis>(0, 47'482 * day);
  Millis duration = in.ConsumeIntegralInRange<Millis>(0, 7 * day);
  Millis from = start + in.ConsumeIntegralInRange<Millis>(-30 * day, 3650 * day);
  Millis to = from + in.ConsumeIntegralInRange<Millis>(1, 730 * day);
  std::string rule = in.ConsumeRandomLengthString(512);
  std::string stamp = in.ConsumeRemainingBytesAsString();
  try {
    std::string rrule = cal::normalize_rrule(rule);
    cal::Series s{date::floor<std::chrono::seconds>(providers::to_local(start, tz)), duration, rrule, tz, {}};
    auto hits = cal::expand(s, from, to, 500);
    (void)cal::series_end(s);
    if (!hits.empty()) {
      (void)cal::normalize_rrule(cal::rule_until(rrule, hits.back()));
      (void)cal::normalize_rrule(cal::rule_after(rrule, int(hits.size())));
    }
  } catch (const ToolError&) {
  }
  if (auto t = cal::parse_stamp(stamp)) (void)cal::stamp(*t);
  return 0;
}
