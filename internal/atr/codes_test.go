package atr

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClassify_WhatARetailerDoesAboutEachCode(t *testing.T) {
	tests := []struct {
		code string
		want Class
		text string
	}{
		{"32", ClassNeverCut, "Suministro Esencial"},
		{"34", ClassNeverCut, "Cliente no cortable por orden judicial o administrativa"},
		{"83", ClassNeverCut, "Pobreza Energética"},
		{"D1", ClassNeverCut, "Suministro acogido a bono social"},
		{"G4", ClassNeverCut, "Suministro Mínimo Vital"},
		{"12", ClassAlreadyCut, "Contrato cortado por impago"},
		{"35", ClassAlreadyCut, "Cliente ya cortado"},
		{"64", ClassTechnical, "Desconexión no posible técnicamente en Corte"},
		{"C4", ClassTechnical, "Desconexión no posible técnicamente en Corte por peligrosidad"},
		{"C2", ClassTechnical, "Imposible reenganchar por causas técnicas"},
		{"B7", ClassInProgress, "Existencia de Solicitud previa en curso B1 (motivo 03)"},
		{"B9", ClassOther, ""},
		{"01", ClassOther, "No existe Punto de Suministro asociado al CUPS"},
		{"43", ClassOther, "No es posible anulación. Solicitud ya activada"},
		{"99", ClassOther, "Otros"},
		{"ZZ", ClassOther, ""},
		{"", ClassOther, ""},
		{"d1", ClassOther, ""},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			require.Equal(t, tt.want, Classify(tt.code))
			if tt.text != "" {
				require.Equal(t, tt.text, CodeText(tt.code))
			}
		})
	}
	require.Empty(t, CodeText("ZZ"))
	require.Empty(t, CodeText(""))
	require.NotEmpty(t, CodeText("B9"))
}

func TestCodeText_EveryClassifiedCodeIsInTable27(t *testing.T) {
	for code := range classes {
		require.NotEmpty(t, CodeText(code), "code %s", code)
	}
	for code, text := range table27 {
		require.Empty(t, isRejectionCode(code), "code %q", code)
		require.NotEmpty(t, text, "code %s", code)
	}
	require.Len(t, table27, 156)
}
