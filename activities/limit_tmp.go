package activities

import (
	"context"
	"time"
)

type LimitInput struct {
	Case CaseRef   `json:"case"`
	KW   float64   `json:"kw"`
	At   time.Time `json:"at"`
}
type LimitResult struct {
	RequestID int64 `json:"request_id"`
}

func (a *Activities) RequestPowerLimit(ctx context.Context, in LimitInput) (LimitResult, error) {
	return LimitResult{}, nil
}
