package billing

import (
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// marker is a MarkerRecorded event of the workflow task completed at event task.
func marker(name string, task int64) *historypb.HistoryEvent {
	return &historypb.HistoryEvent{
		EventType: enumspb.EVENT_TYPE_MARKER_RECORDED,
		Attributes: &historypb.HistoryEvent_MarkerRecordedEventAttributes{MarkerRecordedEventAttributes: &historypb.MarkerRecordedEventAttributes{
			MarkerName: name, WorkflowTaskCompletedEventId: task,
		}},
	}
}

// upsert is an UpsertWorkflowSearchAttributes event setting the named attributes.
func upsert(task int64, names ...string) *historypb.HistoryEvent {
	fields := map[string]*commonpb.Payload{}
	for _, n := range names {
		fields[n] = &commonpb.Payload{Data: []byte(`"x"`)}
	}
	return &historypb.HistoryEvent{
		EventType: enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
		Attributes: &historypb.HistoryEvent_UpsertWorkflowSearchAttributesEventAttributes{UpsertWorkflowSearchAttributesEventAttributes: &historypb.UpsertWorkflowSearchAttributesEventAttributes{
			WorkflowTaskCompletedEventId: task, SearchAttributes: &commonpb.SearchAttributes{IndexedFields: fields},
		}},
	}
}

func started() *historypb.HistoryEvent {
	return &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED}
}

// Temporal Cloud bills the local activities of one workflow task as one
// action, whatever their number, and bills neither version markers nor the
// upserts GetVersion makes of TemporalChangeVersion alone.
func TestActionsBillLocalActivitiesOncePerWorkflowTask(t *testing.T) {
	for _, tc := range []struct {
		name    string
		events  []*historypb.HistoryEvent
		actions int
		las     int
	}{
		{"three local activities in one workflow task", []*historypb.HistoryEvent{
			started(), marker(LocalActivityMarker, 4), marker(LocalActivityMarker, 4), marker(LocalActivityMarker, 4),
		}, 1 + 1, 3},
		{"local activities in two workflow tasks", []*historypb.HistoryEvent{
			started(), marker(LocalActivityMarker, 4), marker(LocalActivityMarker, 4), marker(LocalActivityMarker, 9),
		}, 1 + 2, 3},
		{"a version marker and its TemporalChangeVersion upsert", []*historypb.HistoryEvent{
			started(), marker("Version", 4), upsert(4, "TemporalChangeVersion"),
		}, 1, 0},
		{"an upsert of TemporalChangeVersion with a stage is billed", []*historypb.HistoryEvent{
			started(), upsert(4, "TemporalChangeVersion", "Stage"),
		}, 1 + 1, 0},
		{"an accepted update is billed", []*historypb.HistoryEvent{
			started(), {EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED},
		}, 1 + 1, 0},
		{"side effects are billed one by one", []*historypb.HistoryEvent{
			started(), marker(SideEffectMarker, 4), marker(MutableSideEffectMarker, 4), marker(LocalActivityMarker, 4),
		}, 1 + 2 + 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Of(tc.events)
			if got := b.Actions(); got != tc.actions {
				t.Errorf("actions = %d, want %d (%+v)", got, tc.actions, b)
			}
			if b.LocalActivities != tc.las {
				t.Errorf("local activities = %d, want %d", b.LocalActivities, tc.las)
			}
			if b.Events != len(tc.events) {
				t.Errorf("events = %d, want %d", b.Events, len(tc.events))
			}
		})
	}
}
