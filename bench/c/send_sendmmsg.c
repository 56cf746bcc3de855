/* C baseline sender: connected sendmmsg, 64 datagrams per call.
 * Usage: send_sendmmsg host port size seconds max_packets  -> one JSON line; then end markers. */
#include "common.h"

#define VLEN 64

int main(int argc, char** argv) {
  if (argc < 6) { fprintf(stderr, "usage: %s host port size seconds max_packets\n", argv[0]); return 2; }
  struct sockaddr_storage ss; socklen_t sl;
  int af = loopback_addr(argv[1], atoi(argv[2]), &ss, &sl);
  int size = atoi(argv[3]);
  double secs = atof(argv[4]);
  unsigned long long max = strtoull(argv[5], NULL, 10);
  if (af < 0 || size < 4 || size > 65507) { fprintf(stderr, "bad arguments\n"); return 2; }
  int fd = socket(af, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr*)&ss, sl) < 0) { perror("connect"); return 1; }
  char* buf = calloc(VLEN, (size_t)size);
  struct mmsghdr msgs[VLEN];
  struct iovec iov[VLEN];
  memset(msgs, 0, sizeof(msgs));
  for (int i = 0; i < VLEN; i++) {
    iov[i].iov_base = buf + (size_t)i * size; iov[i].iov_len = (size_t)size;
    msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0;
  double t0 = now_s(), c0 = cpu_s();
  while (sent < max && now_s() - t0 < secs) {
    int n = sendmmsg(fd, msgs, VLEN, 0);
    if (n < 0) { if (errno == EINTR || errno == ECONNREFUSED || errno == ENOBUFS) continue; perror("sendmmsg"); return 1; }
    sent += (unsigned long long)n;
  }
  double t1 = now_s(), c1 = cpu_s();
  send_markers(fd);
  printf("{\"sent\":%llu,\"seconds\":%.6f,\"cpu_s\":%.6f}\n", sent, t1 - t0, c1 - c0);
  close(fd);
  return 0;
}
