// SPDX-License-Identifier: Apache-2.0
/* The agent's one clock (agent/lib/lib.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/lib/lib.h"

static __u64 ns_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

__u64 kg_mono_ns(void)
{
	return ns_of(CLOCK_MONOTONIC);
}

__u64 kg_now_ms(void)
{
	return kg_mono_ns() / 1000000;
}

__u64 kg_wall_now_ns(void)
{
	return ns_of(CLOCK_REALTIME);
}

__u64 kg_boot_ns(void)
{
	return ns_of(CLOCK_BOOTTIME);
}

void kg_boot_id(char out[KG_BOOT_ID_LEN])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	*out = 0;
	if (!f)
		return;
	if (!fgets(out, KG_BOOT_ID_LEN, f))
		*out = 0;
	fclose(f);
	out[strcspn(out, "\n")] = 0;
}

__u64 kg_mono_to_wall(__u64 mono_ns)
{
	__u64 now_wall = kg_wall_now_ns(), now_mono = kg_mono_ns();

	/* an event is never from the future; a clock step backwards must not wrap */
	if (mono_ns > now_mono)
		mono_ns = now_mono;
	return now_wall > now_mono - mono_ns ? now_wall - (now_mono - mono_ns) : 0;
}

/* The units a duration may carry, longest suffix first where one is a prefix of another. */
static const struct {
	const char *suffix;
	__u64 ns;
} units[] = {
	{"ms", 1000000ull}, {"s", 1000000000ull}, {"m", 60000000000ull},
	{"h", 3600000000000ull}, {"d", 86400000000000ull},
};

int kg_parse_duration(const char *s, __u64 *ns)
{
	__u64 total = 0;

	if (!s || !*s)
		return -1;
	while (*s) {
		__u64 n = 0, unit = 0;
		int digits = 0;

		for (; *s >= '0' && *s <= '9'; s++, digits++) {
			if (n > (~0ull - 9) / 10)
				return -1;
			n = n * 10 + (__u64)(*s - '0');
		}
		if (!digits)
			return -1;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].suffix);

			if (!strncmp(s, units[i].suffix, l) && !(s[l] >= 'a' && s[l] <= 'z')) {
				unit = units[i].ns;
				s += l;
				break;
			}
		}
		/* a bare number is ambiguous (seconds? minutes?): the unit is required */
		if (!unit || n > ~0ull / unit || total + n * unit < total)
			return -1;
		total += n * unit;
	}
	*ns = total;
	return 0;
}

void kg_time_text(__u64 wall_ns, char *buf, size_t len)
{
	time_t sec = (time_t)(wall_ns / 1000000000ull);
	struct tm tm;
	char b[32];

	gmtime_r(&sec, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03lluZ", b, (unsigned long long)(wall_ns / 1000000 % 1000));
}
