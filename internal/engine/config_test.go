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
