# tests/fidelity/build.mk -- faults in time against the real outages they imitate: curl, python3
# (blocking and asyncio), node (net and http) and redis-cli see the same errors, exceptions and
# times under chaos-exec's blackhole, stall, delay= and dns=timeout as against a real black hole
# (nftables in a network namespace), a server that never answers, one that answers late, and
# name servers that never answer.  Needs root (network namespace, nftables).

.PHONY: check-fidelity
check-fidelity: $(O)/chaos-exec $(O)/libchaos-preload.so
	$(Q)BUILD=$(O) sh tests/fidelity/run.sh

CHECKS += check-fidelity
