package engine_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/engine"
)

func TestWorkflowCacheFromEnv(t *testing.T) {
	t.Setenv(engine.EnvWorkflowCache, "")
	n, err := engine.WorkflowCacheFromEnv()
	require.NoError(t, err)
	require.Zero(t, n, "unset: the SDK's default")
	t.Setenv(engine.EnvWorkflowCache, " 2000 ")
	n, err = engine.WorkflowCacheFromEnv()
	require.NoError(t, err)
	require.Equal(t, 2000, n)
	for _, bad := range []string{"0", "-1", "2k", "1e4"} {
		t.Setenv(engine.EnvWorkflowCache, bad)
		_, err = engine.WorkflowCacheFromEnv()
		require.ErrorContains(t, err, engine.EnvWorkflowCache, bad)
	}
}

// The regional and local holidays the retailer configures reach the policy a
// case starts with, and its calendar refuses their eve as a cut day.
func TestPolicyTakesTheHolidaysFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "festivos.txt")
	require.NoError(t, os.WriteFile(path, []byte("# Festivos de Madrid\n2026-03-19 San José\n\n2026-05-15\tSan Isidro (local)\n"), 0o600))
	t.Setenv("IMPAGOS_HOLIDAYS_FILE", path)

	p, err := engine.FromEnv().Policy("default")
	require.NoError(t, err)
	require.Equal(t, []string{"2026-03-19", "2026-05-15"}, p.Holidays)
	cal, err := p.Calendar()
	require.NoError(t, err)
	require.True(t, cal.IsHoliday(calendar.Date(2026, time.March, 19)))
	require.False(t, cal.IsAllowedCutDay(calendar.Date(2026, time.March, 18)), "a Wednesday whose next day is San José")
	require.False(t, cal.IsAllowedCutDay(calendar.Date(2026, time.March, 19)), "the holiday itself")
	require.True(t, cal.IsAllowedCutDay(calendar.Date(2026, time.March, 17)), "an ordinary Tuesday")
	require.Equal(t, calendar.Date(2026, time.March, 23), cal.NextCutDay(calendar.Date(2026, time.March, 18)),
		"not the eve, not the holiday, not a Friday: the next Monday")
}

// A day the retailer scopes to a province stays out of the policy, which
// every case shares; the worker hands it to the activities, which add it to
// the calendar of the supplies of that province only.
func TestHolidaysFile_ScopedDaysReachTheirProvinceOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "festivos.txt")
	require.NoError(t, os.WriteFile(path, []byte("2026-03-19 San José\n2026-09-24 [Barcelona] La Mercè\n2026-05-15 @28079 San Isidro\n"), 0o600))
	t.Setenv("IMPAGOS_HOLIDAYS_FILE", path)

	p, err := engine.FromEnv().Policy("default")
	require.NoError(t, err)
	require.Equal(t, []string{"2026-03-19"}, p.Holidays)

	extra, err := engine.FromEnv().HolidayExtra()
	require.NoError(t, err)
	require.Equal(t, []time.Time{calendar.Date(2026, time.March, 19)}, extra.All)
	require.Equal(t, []time.Time{calendar.Date(2026, time.September, 24)}, extra.ByProvince["08"])
	require.Equal(t, []time.Time{calendar.Date(2026, time.May, 15)}, extra.ByProvince["28"])
	barcelona, _ := calendar.ForProvince("Barcelona", extra)
	madrid, _ := calendar.ForProvince("Madrid", extra)
	require.False(t, barcelona.IsAllowedCutDay(calendar.Date(2026, time.September, 23)), "eve of La Mercè in Barcelona")
	require.True(t, madrid.IsAllowedCutDay(calendar.Date(2026, time.September, 23)), "La Mercè is Barcelona's")
	require.False(t, madrid.IsAllowedCutDay(calendar.Date(2026, time.May, 14)), "eve of San Isidro in Madrid")
}

func TestPolicyRefusesAMalformedHolidaysFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "festivos.txt")
	require.NoError(t, os.WriteFile(path, []byte("2026-03-19 San José\n# local\n19/03/2026 San José\n"), 0o600))
	t.Setenv("IMPAGOS_HOLIDAYS_FILE", path)

	_, err := engine.FromEnv().Policy("default")
	require.ErrorContains(t, err, path)
	require.ErrorContains(t, err, "line 3")
	require.ErrorContains(t, err, "19/03/2026")
}

// A demo case sends its notices and reaches its cut within minutes: only the
// local stack's environment (IMPAGOS_ALLOW_DEMO=1) may start one, whether the
// demo policy is asked for by --policy or by IMPAGOS_POLICY.
func TestDemoPolicyNeedsAllowDemo(t *testing.T) {
	for _, tc := range []struct {
		name      string
		envPolicy string // IMPAGOS_POLICY
		allow     string // IMPAGOS_ALLOW_DEMO
		flag      string // --policy
		want      string // the policy returned; empty: refused
		source    string // what the refusal names
	}{
		{name: "--policy demo without the variable", flag: "demo", source: "--policy=demo"},
		{name: "IMPAGOS_POLICY=demo without the variable", envPolicy: "demo", source: "IMPAGOS_POLICY=demo"},
		{name: "only 1 allows it", flag: "demo", allow: "true", source: "--policy=demo"},
		{name: "0 refuses it", envPolicy: "demo", allow: "0", source: "IMPAGOS_POLICY=demo"},
		{name: "--policy demo on the local stack", flag: "demo", allow: "1", want: "demo"},
		{name: "IMPAGOS_POLICY=demo on the local stack", envPolicy: "demo", allow: "1", want: "demo"},
		{name: "--policy default wins over IMPAGOS_POLICY=demo", envPolicy: "demo", flag: "default", want: "default"},
		{name: "the default policy needs nothing", want: "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("IMPAGOS_POLICY", tc.envPolicy)
			t.Setenv(engine.EnvAllowDemo, tc.allow)
			p, err := engine.FromEnv().Policy(tc.flag)
			if tc.want == "" {
				require.ErrorIs(t, err, engine.ErrDemoNotAllowed)
				require.ErrorContains(t, err, tc.source)
				require.ErrorContains(t, err, engine.EnvAllowDemo+"=1")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, p.Name)
		})
	}
}

// The worker starts no case: IMPAGOS_POLICY=demo without IMPAGOS_ALLOW_DEMO
// still lets it read the holidays of its digest and run the demo cases
// already started, whose policy travels in their input.
func TestWorkerReadsTheHolidaysWhateverThePolicyVariable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "festivos.txt")
	require.NoError(t, os.WriteFile(path, []byte("2026-03-19 San José\n"), 0o600))
	t.Setenv("IMPAGOS_HOLIDAYS_FILE", path)
	t.Setenv("IMPAGOS_POLICY", "demo")
	t.Setenv(engine.EnvAllowDemo, "")
	days, err := engine.FromEnv().ExtraHolidays()
	require.NoError(t, err)
	require.Equal(t, []string{"2026-03-19"}, days)
}
