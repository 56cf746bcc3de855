/*
 * Ancillary data (control messages). Parsing, for one received datagram: destination address and
 * interface (IP_PKTINFO / IPV6_PKTINFO), TOS / traffic class, TTL / hop limit (IP_TTL /
 * IPV6_HOPLIMIT), kernel receive timestamp (SCM_TIMESTAMPNS) and the kernel drop counter
 * (SO_RXQ_OVFL); unknown messages are ignored and lengths are checked before every read. Encoding,
 * for one outgoing message (the batch engine's UDP_SEGMENT and per-row TTL). Kept apart from the
 * N-API glue so every receive and send path parses and encodes the same way.
 */
#include "msock.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static int msock__cmsg_fits(const struct cmsghdr* c, size_t size) {
  return c->cmsg_len >= CMSG_LEN(size);
}

void msock__cmsg_parse(struct msghdr* msg, msock_cmsg_info_t* info) {
  struct cmsghdr* c;

  memset(info, 0, sizeof(*info));
  if (msg->msg_control == NULL || msg->msg_controllen == 0) return;

  for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level == IPPROTO_IP) {
#ifdef IP_PKTINFO
      if (c->cmsg_type == IP_PKTINFO && msock__cmsg_fits(c, sizeof(struct in_pktinfo))) {
        struct in_pktinfo pi;
        struct sockaddr_in* sin = (struct sockaddr_in*)&info->local;
        memcpy(&pi, CMSG_DATA(c), sizeof(pi));
        memset(sin, 0, sizeof(*sin));
        sin->sin_family = AF_INET;
        sin->sin_addr = pi.ipi_addr;
        info->ifindex = (unsigned int)pi.ipi_ifindex;
        info->has_local = 1;
        continue;
      }
#endif
#if defined(IP_TOS)
      /* Linux sends IP_TOS as one byte; some systems use IP_RECVTOS as the type, some an int. */
      if (c->cmsg_type == IP_TOS
# ifdef IP_RECVTOS
          || c->cmsg_type == IP_RECVTOS
# endif
      ) {
        if (msock__cmsg_fits(c, sizeof(int))) {
          int v;
          memcpy(&v, CMSG_DATA(c), sizeof(v));
          info->tos = v & 0xff;
          info->has_tos = 1;
        } else if (msock__cmsg_fits(c, 1)) {
          info->tos = *(const unsigned char*)CMSG_DATA(c);
          info->has_tos = 1;
        }
        continue;
      }
#endif
#ifdef IP_TTL
      if (c->cmsg_type == IP_TTL && msock__cmsg_fits(c, sizeof(int))) {
        memcpy(&info->ttl, CMSG_DATA(c), sizeof(int));
        info->has_ttl = 1;
        continue;
      }
#endif
    } else if (c->cmsg_level == IPPROTO_IPV6) {
#ifdef IPV6_PKTINFO
      if (c->cmsg_type == IPV6_PKTINFO && msock__cmsg_fits(c, sizeof(struct in6_pktinfo))) {
        struct in6_pktinfo pi;
        struct sockaddr_in6* sin6 = (struct sockaddr_in6*)&info->local;
        memcpy(&pi, CMSG_DATA(c), sizeof(pi));
        memset(sin6, 0, sizeof(*sin6));
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = pi.ipi6_addr;
        info->ifindex = pi.ipi6_ifindex;
        info->has_local = 1;
        continue;
      }
#endif
#ifdef IPV6_HOPLIMIT
      if (c->cmsg_type == IPV6_HOPLIMIT && msock__cmsg_fits(c, sizeof(int))) {
        memcpy(&info->ttl, CMSG_DATA(c), sizeof(int));
        info->has_ttl = 1;
        continue;
      }
#endif
#ifdef IPV6_TCLASS
      if (c->cmsg_type == IPV6_TCLASS && msock__cmsg_fits(c, sizeof(int))) {
        int v;
        memcpy(&v, CMSG_DATA(c), sizeof(v));
        info->tos = v & 0xff;
        info->has_tos = 1;
        continue;
      }
#endif
    } else if (c->cmsg_level == SOL_SOCKET) {
#ifdef SCM_TIMESTAMPNS
      if (c->cmsg_type == SCM_TIMESTAMPNS && msock__cmsg_fits(c, sizeof(struct timespec))) {
        struct timespec ts;
        memcpy(&ts, CMSG_DATA(c), sizeof(ts));
        info->timestamp_sec = (int64_t)ts.tv_sec;
        info->timestamp_nsec = (int64_t)ts.tv_nsec;
        info->has_timestamp = 1;
        continue;
      }
#endif
#ifdef SO_RXQ_OVFL
      if (c->cmsg_type == SO_RXQ_OVFL && msock__cmsg_fits(c, sizeof(uint32_t))) {
        memcpy(&info->drops, CMSG_DATA(c), sizeof(info->drops));
        info->has_drops = 1;
        continue;
      }
#endif
    }
  }
}

void msock__cmsg_encode_begin(msock_cmsg_encoder_t* enc, struct msghdr* msg, void* buf, size_t size) {
  enc->msg = msg;
  enc->used = 0;
  enc->size = size;
  msg->msg_control = buf;
  msg->msg_controllen = size;
}

int msock__cmsg_encode(msock_cmsg_encoder_t* enc,
                       int level,
                       int type,
                       const void* data,
                       size_t len) {
  struct cmsghdr* c;
  if (enc->used + CMSG_SPACE(len) > enc->size) return -ENOSPC;
  c = (struct cmsghdr*)((char*)enc->msg->msg_control + enc->used);
  /* CMSG_SPACE pads to the alignment of the next header: clear the padding the kernel may read. */
  memset(c, 0, CMSG_SPACE(len));
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  memcpy(CMSG_DATA(c), data, len);
  enc->used += CMSG_SPACE(len);
  return 0;
}

void msock__cmsg_encode_end(msock_cmsg_encoder_t* enc) {
  enc->msg->msg_controllen = enc->used;
  if (enc->used == 0) enc->msg->msg_control = NULL;
}
