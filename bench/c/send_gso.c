/* C baseline sender: UDP GSO (UDP_SEGMENT = size), min(64, 65507/size) segments per send.
 * Usage: send_gso host port size seconds max_packets  -> one JSON line; then end markers. */
#include "common.h"
#include <netinet/udp.h>
#ifndef UDP_SEGMENT
# define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
# define SOL_UDP 17
#endif

int main(int argc, char** argv) {
  if (argc < 6) { fprintf(stderr, "usage: %s host port size seconds max_packets\n", argv[0]); return 2; }
  struct sockaddr_storage ss; socklen_t sl;
  int af = loopback_addr(argv[1], atoi(argv[2]), &ss, &sl);
  int size = atoi(argv[3]);
  double secs = atof(argv[4]);
  unsigned long long max = strtoull(argv[5], NULL, 10);
  if (af < 0 || size < 4 || size > 65507) { fprintf(stderr, "bad arguments\n"); return 2; }
  int segs = 65507 / size < 64 ? 65507 / size : 64;
  int fd = socket(af, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr*)&ss, sl) < 0) { perror("connect"); return 1; }
  int gso = size;
  if (setsockopt(fd, SOL_UDP, UDP_SEGMENT, &gso, sizeof(gso)) < 0) { perror("UDP_SEGMENT"); return 1; }
  char* buf = calloc((size_t)segs, (size_t)size);
  unsigned long long sent = 0;
  double t0 = now_s(), c0 = cpu_s();
  while (sent < max && now_s() - t0 < secs) {
    ssize_t n = send(fd, buf, (size_t)segs * size, 0);
    if (n < 0) { if (errno == EINTR || errno == ECONNREFUSED || errno == ENOBUFS) continue; perror("send"); return 1; }
    sent += (unsigned long long)segs;
  }
  double t1 = now_s(), c1 = cpu_s();
  gso = 0;
  setsockopt(fd, SOL_UDP, UDP_SEGMENT, &gso, sizeof(gso));
  send_markers(fd);
  printf("{\"sent\":%llu,\"seconds\":%.6f,\"cpu_s\":%.6f}\n", sent, t1 - t0, c1 - c0);
  close(fd);
  return 0;
}
