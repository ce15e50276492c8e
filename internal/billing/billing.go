// Package billing counts the actions Temporal Cloud bills for a workflow, as
// its history shows them: the start, every activity attempt, timer, signal,
// accepted update, search-attribute upsert and side effect, and one action for
// each workflow task that ran local activities, however many. Version markers
// and the upserts the SDK makes of TemporalChangeVersion alone are not billed.
// Queries are billed too but leave no event.
package billing

import (
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// The marker names the Go SDK records: a local activity's result and a side
// effect's (a version marker is "Version").
const (
	LocalActivityMarker     = "LocalActivity"
	SideEffectMarker        = "SideEffect"
	MutableSideEffectMarker = "MutableSideEffect"
)

// Bill is what a history says a workflow cost.
type Bill struct {
	Starts, Activities, Timers, Signals, Updates, Upserts, SideEffects int
	// Events is the length of the history.
	Events int
	// Retries are the activity attempts beyond the first, from
	// ActivityTaskStarted: billed, though they leave no event of their own.
	Retries int
	// LocalActivities are the local activities run (a marker each).
	LocalActivities int
	// VersionMarkers are the GetVersion markers, not billed.
	VersionMarkers int
	// LocalTasks and UpsertTasks count, by the workflow task that completed
	// with them, the local activities and the billed upserts.
	LocalTasks, UpsertTasks map[int64]int
}

// New is an empty bill.
func New() *Bill {
	return &Bill{LocalTasks: map[int64]int{}, UpsertTasks: map[int64]int{}}
}

// Of counts a whole history.
func Of(events []*historypb.HistoryEvent) *Bill {
	b := New()
	for _, e := range events {
		b.Add(e)
	}
	return b
}

// Actions is the number of billed actions.
func (b *Bill) Actions() int {
	return b.Starts + b.Activities + b.Retries + b.Timers + b.Signals + b.Updates + b.Upserts + b.SideEffects +
		len(b.LocalTasks)
}

// Add counts one event.
func (b *Bill) Add(e *historypb.HistoryEvent) {
	b.Events++
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
		b.Starts++
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		b.Activities++
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
		b.Retries += max(0, int(e.GetActivityTaskStartedEventAttributes().GetAttempt())-1)
	case enumspb.EVENT_TYPE_TIMER_STARTED:
		b.Timers++
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		b.Signals++
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
		b.Updates++
	case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
		a := e.GetUpsertWorkflowSearchAttributesEventAttributes()
		fields := a.GetSearchAttributes().GetIndexedFields()
		if _, version := fields["TemporalChangeVersion"]; version && len(fields) == 1 {
			return
		}
		b.Upserts++
		b.UpsertTasks[a.GetWorkflowTaskCompletedEventId()]++
	case enumspb.EVENT_TYPE_MARKER_RECORDED:
		a := e.GetMarkerRecordedEventAttributes()
		switch a.GetMarkerName() {
		case LocalActivityMarker:
			b.LocalActivities++
			b.LocalTasks[a.GetWorkflowTaskCompletedEventId()]++
		case SideEffectMarker, MutableSideEffectMarker:
			b.SideEffects++
		default:
			b.VersionMarkers++
		}
	}
}
