/* C floor of the pacing bench: one clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) and one sendto
 * per datagram, evenly spaced at a fixed rate, 1 ns timer slack: what a wake-up per datagram costs
 * on this machine, without any stream parsing. No PCRs: the rate is given.
 * With `wake` as the last argument it only sleeps to each datagram's time and sends nothing: the
 * CPU of the wake-ups alone, which no sender that wakes once per datagram can go below; it then
 * prints {"cpu_core_share": x} measured with getrusage over the run.
 * Usage: pace_nanosleep host port size bits_per_second seconds [rt_priority] [wake] */
#include "common.h"

#include <sched.h>
#include <sys/prctl.h>
#include <time.h>

int main(int argc, char** argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s host port size bits_per_second seconds [rt_priority] [wake]\n", argv[0]);
    return 2;
  }
  struct sockaddr_storage ss; socklen_t sl;
  int af = loopback_addr(argv[1], atoi(argv[2]), &ss, &sl);
  int size = atoi(argv[3]);
  double bps = atof(argv[4]), secs = atof(argv[5]);
  int wake_only = argc > 7 && strcmp(argv[7], "wake") == 0;
  if (af < 0 || size < 1 || size > 65507 || bps <= 0 || secs <= 0) { fprintf(stderr, "bad arguments\n"); return 2; }
  if (argc > 6 && atoi(argv[6]) > 0) {
    struct sched_param sp; memset(&sp, 0, sizeof(sp)); sp.sched_priority = atoi(argv[6]);
    if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) perror("sched_setscheduler");
  }
  int fd = socket(af, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  char* buf = calloc(1, (size_t)size);
  memset(buf, 0x47, (size_t)size);
  (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  double pps = bps / (size * 8.0);
  long long n = (long long)(pps * secs);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long long start = (long long)t0.tv_sec * 1000000000LL + t0.tv_nsec + 100000000LL;
  double c0 = cpu_s();
  for (long long i = 0; i < n; i++) {
    long long at = start + (long long)((double)i * 1e9 / pps);
    struct timespec ts = { (time_t)(at / 1000000000LL), (long)(at % 1000000000LL) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
    if (wake_only) continue;
    if (sendto(fd, buf, (size_t)size, 0, (struct sockaddr*)&ss, sl) < 0 && errno != ECONNREFUSED && errno != ENOBUFS) {
      perror("sendto");
      return 1;
    }
  }
  if (wake_only) printf("{\"cpu_core_share\":%.4f}\n", (cpu_s() - c0) / secs);
  return 0;
}
