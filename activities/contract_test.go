package activities_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// contractStore answers Contract with a fixed contract; no other method is called.
type contractStore struct {
	activities.Store
	k   activities.Contract
	err error
}

func (s contractStore) Contract(context.Context, activities.CaseRef) (activities.Contract, error) {
	return s.k, s.err
}

// The contract carries its supply's calendar: the regional holidays of its
// province and the retailer's days for it, for every year the data covers.
func TestLookupContract_CarriesTheProvinceCalendar(t *testing.T) {
	extra := calendar.Extra{
		All:        []time.Time{calendar.Date(2026, time.December, 24)},
		ByProvince: map[string][]time.Time{"08": {calendar.Date(2026, time.September, 24)}, "28": {calendar.Date(2026, time.May, 15)}},
	}
	lookup := func(province string) activities.Contract {
		a := &activities.Activities{Store: contractStore{k: activities.Contract{Found: true, Province: province}}, Holidays: extra}
		k, err := a.LookupContract(context.Background(), activities.LookupInput{})
		require.NoError(t, err)
		require.Equal(t, 2028, k.CalendarThrough)
		require.True(t, slices.IsSorted(k.Holidays), "sorted")
		require.Equal(t, len(k.Holidays), len(slices.Compact(slices.Clone(k.Holidays))), "each day once")
		return k
	}

	barcelona := lookup("Barcelona")
	for _, d := range []string{"2026-04-06", "2026-06-24", "2026-09-11", "2026-09-24", "2026-12-24", "2026-12-26", "2027-06-24", "2028-09-11"} {
		require.Contains(t, barcelona.Holidays, d)
	}
	for _, d := range []string{"2026-04-02", "2026-05-15", "2026-01-01", "2026-12-25"} {
		require.NotContains(t, barcelona.Holidays, d, "Holy Thursday is not Catalan; San Isidro is Madrid's; national days are the workflow's")
	}
	madrid := lookup("madrid")
	require.Contains(t, madrid.Holidays, "2026-04-02")
	require.Contains(t, madrid.Holidays, "2026-05-15")
	require.NotContains(t, madrid.Holidays, "2026-06-24")

	// What the workflow does with it: the eve of Sant Joan is no cut day in Barcelona.
	days := make([]time.Time, len(barcelona.Holidays))
	for i, s := range barcelona.Holidays {
		d, err := time.ParseInLocation(time.DateOnly, s, calendar.Madrid)
		require.NoError(t, err)
		days[i] = d
	}
	require.False(t, calendar.New(days...).IsAllowedCutDay(calendar.Date(2026, time.June, 23)))

	unknown, empty := lookup("Atlantis"), lookup("")
	require.Equal(t, empty.Holidays, unknown.Holidays)
	for _, d := range slices.Concat(barcelona.Holidays, madrid.Holidays) {
		require.Contains(t, unknown.Holidays, d, "an unknown province gets every region's holidays")
	}
}

func TestLookupContract_StoreError(t *testing.T) {
	boom := errors.New("boom")
	a := &activities.Activities{Store: contractStore{err: boom}}
	_, err := a.LookupContract(context.Background(), activities.LookupInput{})
	require.ErrorIs(t, err, boom)
}
