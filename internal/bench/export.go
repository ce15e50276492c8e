package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/money"
)

// exportHeader is the header of TRADE's "Vencimientos de Cobro" export, in
// the order the real export has it.
var exportHeader = []any{
	"Nº Vencimiento", "Cliente", "NIF/CIF", "Número de Factura", "Fecha Factura", "Fecha Vencimiento",
	"Importe", "Estado", "Banco", "Fecha Devolución", "Motivo Devolución", "Cups", "Contrato", "Comercial",
}

const exportColumns = 14

var (
	firstNames = []string{"Ana", "Pablo", "Lucía", "Javier", "María", "Carmen", "José", "Laura", "David", "Elena",
		"Manuel", "Isabel", "Francisco", "Pilar", "Antonio", "Rosa", "Sergio", "Marta", "Jorge", "Cristina"}
	surnames = []string{"García", "Sánchez", "Hernández", "Ruiz", "Romero", "López", "Martínez", "Pérez", "Gómez",
		"Fernández", "Jiménez", "Moreno", "Álvarez", "Muñoz", "Castaño", "Navarro", "Torres", "Domínguez"}
	companies = []string{"Transportes", "Construcciones", "Clínica Dental", "Panadería", "Talleres", "Distribuciones",
		"Hostelería", "Servicios Integrales", "Frutas", "Carpintería"}
	companyTails = []string{"La Esperanza S.L.", "y Asociados S.L.", "del Norte S.A.", "Hermanos S.L.", "Levante S.L.U."}
	banks        = []string{"CaixaBank", "Banco Santander", "BBVA", "Kutxabank", "Cajamar", "Banco Sabadell", "Unicaja"}
	reasons      = []string{"AM04 Fondos insuficientes", "AC04 Cuenta cancelada", "AC06 Cuenta bloqueada",
		"MD06 Devolución solicitada por el deudor", "MS02 Motivo no especificado por el cliente"}
	distributors = []string{"0021", "0022", "0027", "0031"}
)

// writeExport writes a TRADE export of returned invoices with n rows, the
// way the real one looks: dates as date cells, amounts mostly as number cells
// and some as Spanish text ("1.234,56 €"), every row returned (Devuelto),
// valid tax ids and CUPS. Invoice numbers are the prefix and a number
// (FB26-0000001). The same n and prefix give the same file.
func writeExport(path string, n int, prefix string) error {
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "Vencimientos de Cobro"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	if err := sw.SetRow("A1", exportHeader); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(2026, uint64(n)))
	base := time.Date(2026, time.October, 1, 0, 0, 0, 0, time.UTC)
	row := make([]any, exportColumns)
	for i := 0; i < n; i++ {
		invoiced := base.AddDate(0, 0, rng.IntN(60))
		due := invoiced.AddDate(0, 0, 10)
		returned := due.AddDate(0, 0, 1+rng.IntN(6))
		customer, taxID := person(rng)
		if rng.IntN(4) == 0 {
			customer, taxID = company(rng)
		}
		cents := int64(1500 + rng.IntN(300_000))
		var amount any = float64(cents) / 100
		if rng.IntN(10) < 3 {
			amount = money.Format(cents)
		}
		row[0] = fmt.Sprintf("V%07d", i)
		row[1] = customer
		row[2] = taxID
		row[3] = fmt.Sprintf("%s%07d", prefix, i)
		row[4] = excelize.Cell{StyleID: dateStyle, Value: excelSerial(invoiced)}
		row[5] = excelize.Cell{StyleID: dateStyle, Value: excelSerial(due)}
		row[6] = amount
		row[7] = "Devuelto"
		row[8] = banks[rng.IntN(len(banks))]
		row[9] = excelize.Cell{StyleID: dateStyle, Value: excelSerial(returned)}
		row[10] = reasons[rng.IntN(len(reasons))]
		row[11] = supplyPoint(distributors[i%len(distributors)], int64(i))
		row[12] = fmt.Sprintf("CT-%07d", i)
		row[13] = "Oficina"
		cell, err := excelize.CoordinatesToCellName(1, i+2)
		if err != nil {
			return err
		}
		if err := sw.SetRow(cell, row); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.SaveAs(path)
}

// excelSerial is the day as Excel stores a date cell.
func excelSerial(d time.Time) float64 {
	return float64(d.Sub(time.Date(1899, time.December, 30, 0, 0, 0, 0, time.UTC)) / (24 * time.Hour))
}

// supplyPoint builds a valid CUPS of a distributor from a number.
func supplyPoint(distributor string, n int64) string {
	d, err := strconv.Atoi(distributor)
	if err != nil {
		panic(err) // four digits by construction
	}
	return cups.Make(d, n)
}

const dniLetters = "TRWAGMYFPDXBNJZSQVHLCKE"

func person(rng *rand.Rand) (name, taxID string) {
	name = fmt.Sprintf("%s %s %s", firstNames[rng.IntN(len(firstNames))],
		surnames[rng.IntN(len(surnames))], surnames[rng.IntN(len(surnames))])
	n := 10_000_000 + rng.IntN(89_999_999)
	return name, fmt.Sprintf("%08d%c", n, dniLetters[n%23])
}

func company(rng *rand.Rand) (name, taxID string) {
	name = companies[rng.IntN(len(companies))] + " " + companyTails[rng.IntN(len(companyTails))]
	digits := fmt.Sprintf("%07d", rng.IntN(10_000_000))
	sum := 0
	for i := 0; i < 7; i++ {
		d := int(digits[i] - '0')
		if i%2 == 0 {
			d *= 2
			d = d/10 + d%10
		}
		sum += d
	}
	return name, fmt.Sprintf("B%s%d", digits, (10-sum%10)%10)
}
