# test/tap.sh — TAP helpers for the shell tests in test/ (sourced, not run).
#
#   ok CONDITION DESCRIPTION   print "ok N - DESCRIPTION" when eval CONDITION succeeds, else "not ok N"
#   is GOT WANT DESCRIPTION    ok when the strings are equal; prints both as a comment when not
#   done_testing               print the plan "1..N" after the last test
#   poll COMMAND...            run COMMAND every 0.1 s until it prints "t"; after 60 s print
#                              "Bail out!" and exit (tests wait on conditions, never on a time)
tap_n=0

ok() {
	tap_n=$((tap_n + 1))
	if eval "$1"; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; fi
}

is() {
	tap_n=$((tap_n + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $tap_n - $3"
	else
		echo "not ok $tap_n - $3"
		printf '#   got:  %s\n#   want: %s\n' "$1" "$2"
	fi
}

done_testing() {
	echo "1..$tap_n"
}

poll() {
	local i
	for i in $(seq 600); do
		[ "$("$@" 2>/dev/null)" = t ] && return 0
		sleep 0.1
	done
	echo "Bail out! timed out waiting for: $*"
	exit 1
}
