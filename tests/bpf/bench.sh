#!/bin/bash
# bench.sh -- what chaos-attach costs traffic it does not fault: connect rate and request/response
# rate to a loopback peer, with rules attached for other destinations, as ratios against the same
# load with nothing attached.  Rounds interleave the configurations; medians and spreads (min-max
# of the per-round ratios) go to $O/bench/bpf.json.
#
#   O=build tests/bpf/bench.sh [ROUNDS]
set -eu
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-7}
CONNECTS=${BENCH_CONNECTS:-5000}
ROUNDTRIPS=${BENCH_ROUNDTRIPS:-30000}
BENCH=$B/tests/bpf/bench
OUT=$B/bench
mkdir -p "$OUT"

start_peer

# rules for destinations the load never meets, each attaching another hook
ONE=(-f "10.255.0.1:80 refuse")
ALL=(-f "10.255.0.1:80 stall" -f "10.255.0.2:80 bandwidth=1MB/s"
	-f "10.255.0.3:80 delay=100ms on=connect" -f "udp:10.255.0.4:53 refuse"
	-f "other.invalid dns=nxdomain" -f "10.255.0.5 loss=0.1")
python3 - "$T/100k.json" <<-'EOF'
	import json, sys
	rules = ["10.%d.%d.%d:%d refuse" % (100 + (i >> 16), (i >> 8) & 255, i & 255, 1000 + i % 5000)
	         for i in range(100000)]
	json.dump({"faults": rules}, open(sys.argv[1], "w"))
EOF
BIG=(-c "$T/100k.json" "${ALL[@]}")

# Every run is in the same cgroup, made here: only what is attached to it differs.
CG=$MOUNT/chaos-bench-$$
mkdir "$CG"
CGS="$CGS $CG"

run() { # CONFIG: one measurement, "connects_per_s X rr_per_s Y"
	local rules=() ap=""
	case $1 in
	one) rules=("${ONE[@]}") ;;
	all) rules=("${ALL[@]}") ;;
	100k) rules=("${BIG[@]}") ;;
	esac
	if [ ${#rules[@]} -gt 0 ]; then
		"$ATTACH" --cgroup "$CG" "${rules[@]}" 2>"$T/attach.err" &
		ap=$!
		wait_for "$T/attach.err" '^chaos-attach: attached' 10 || {
			echo "bench.sh: chaos-attach did not attach: $(cat "$T/attach.err")" >&2
			exit 1
		}
	fi
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" \
		"$BENCH" 127.0.0.1 "$PORT" "$CONNECTS" "$ROUNDTRIPS"
	if [ -n "$ap" ]; then
		kill -TERM "$ap"
		wait "$ap"
	fi
}

CONFIGS=(none one all 100k)
: >"$T/results"
echo "chaos-attach bench: $ROUNDS rounds, $CONNECTS connects and $ROUNDTRIPS round trips each"
for r in $(seq "$ROUNDS"); do
	# rotate the order, so no configuration always runs first or last
	for k in $(seq 0 3); do
		c=${CONFIGS[$(( (k + r) % 4 ))]}
		echo "$r $c $(run "$c")" >>"$T/results"
	done
	printf '  round %d done\n' "$r"
done

python3 - "$T/results" "$OUT/bpf.json" "$ROUNDS" "$CONNECTS" "$ROUNDTRIPS" <<-'EOF'
	import json, statistics, sys
	rows = [l.split() for l in open(sys.argv[1])]
	data = {}
	for r in rows:
	    data.setdefault(int(r[0]), {})[r[1]] = {"connect": float(r[3]), "rr": float(r[5])}
	names = {"one": "1 rule (connect hooks), another destination",
	         "all": "6 rules, every hook (connect, UDP, sockops, packets, DNS), another destination",
	         "100k": "100,006 rules, every hook, another destination"}
	res = {"rounds": int(sys.argv[3]), "connects": int(sys.argv[4]), "roundtrips": int(sys.argv[5]),
	       "baseline": {}, "configs": {}}
	for m in ("connect", "rr"):
	    res["baseline"][m + "_per_s_median"] = statistics.median(d["none"][m] for d in data.values())
	print("%-78s %-26s %s" % ("configuration", "connect rate ratio", "request/response ratio"))
	for c in ("one", "all", "100k"):
	    entry = {"what": names[c]}
	    cols = []
	    for m in ("connect", "rr"):
	        ratios = [d[c][m] / d["none"][m] for d in data.values()]
	        entry[m] = {"ratio_median": round(statistics.median(ratios), 4),
	                    "ratio_min": round(min(ratios), 4), "ratio_max": round(max(ratios), 4),
	                    "per_s_median": round(statistics.median(d[c][m] for d in data.values()), 1)}
	        cols.append("%.3f (%.3f-%.3f)" % (statistics.median(ratios), min(ratios), max(ratios)))
	    res["configs"][c] = entry
	    print("%-78s %-26s %s" % (names[c], cols[0], cols[1]))
	print("nothing attached: %.0f connects/s, %.0f round trips/s (medians)" %
	      (res["baseline"]["connect_per_s_median"], res["baseline"]["rr_per_s_median"]))
	json.dump(res, open(sys.argv[2], "w"), indent=2)
	print("results in " + sys.argv[2])
EOF
