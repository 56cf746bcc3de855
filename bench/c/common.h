/* Shared bits of the C baselines: argument parsing, address, clock, rusage, JSON out. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

/* Only loopback destinations are accepted. */
static int loopback_addr(const char* host, int port, struct sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in* sin = (struct sockaddr_in*)ss;
  struct sockaddr_in6* sin6 = (struct sockaddr_in6*)ss;
  if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
    if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127) return -1;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    *len = sizeof(*sin);
    return AF_INET;
  }
  if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) return -1;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*sin6);
    return AF_INET6;
  }
  return -1;
}

/* The end marker: 3-byte datagrams, sent 20 times 10 ms apart after the measured run. */
__attribute__((unused)) static void send_markers(int fd) {
  for (int i = 0; i < 20; i++) {
    if (send(fd, "END", 3, 0) < 0 && errno != ECONNREFUSED) break;
    usleep(10000);
  }
}
