package atr

// Class says what a retailer does about a rejection code.
type Class string

// The classes of rejection codes.
const (
	// ClassNeverCut: the supply may not be cut at all (essential supply, a
	// court or administrative order, energy poverty, bono social, minimum
	// vital supply). The retailer stops cutting and does not ask again.
	ClassNeverCut Class = "never_cut"
	// ClassAlreadyCut: the supply is already cut for non-payment; nothing
	// more to ask for.
	ClassAlreadyCut Class = "already_cut"
	// ClassTechnical: the distributor cannot disconnect (or, for C2,
	// reconnect) for technical reasons; a person has to look at the supply.
	ClassTechnical Class = "technical"
	// ClassInProgress: a cut for non-payment of this supply is already under
	// way; the retailer waits for it rather than asking twice.
	ClassInProgress Class = "in_progress"
	// ClassOther: any other code, and codes this package does not know.
	ClassOther Class = "other"
)

var classes = map[string]Class{
	"32": ClassNeverCut,   // Suministro esencial
	"34": ClassNeverCut,   // Cliente no cortable por orden judicial o administrativa
	"83": ClassNeverCut,   // Pobreza energética
	"D1": ClassNeverCut,   // Suministro acogido a bono social
	"G4": ClassNeverCut,   // Suministro mínimo vital
	"12": ClassAlreadyCut, // Contrato cortado por impago
	"35": ClassAlreadyCut, // Cliente ya cortado
	"64": ClassTechnical,  // Desconexión no posible técnicamente en corte
	"C4": ClassTechnical,  // Desconexión no posible técnicamente en corte por peligrosidad
	"C2": ClassTechnical,  // Imposible reenganchar por causas técnicas
	"B7": ClassInProgress, // Existencia de solicitud previa en curso B1 (motivo 03)
}

// Classify says what a retailer does about a rejection code of table 27.
func Classify(code string) Class {
	if c, ok := classes[code]; ok {
		return c
	}
	return ClassOther
}

// CodeText is the CNMC's Spanish text of a rejection code of table 27, ""
// when the code is unknown.
func CodeText(code string) string { return table27[code] }

// table27 is the CNMC's table 27, motivos de rechazo.
var table27 = map[string]string{
	"01": "No existe Punto de Suministro asociado al CUPS",
	"02": "Inexistencia de Contrato de ATR previo en vigor",
	"03": "NIF-CIF No coincide con el del Contrato en vigor",
	"07": "Tipo de Contrato sin informar o erróneo",
	"08": "Fecha de finalización del Contrato sin informar o no válida",
	"09": "Existencia de sentencia judicial relativa a deuda del cliente",
	"11": "Comercializadora incorrecta",
	"12": "Contrato cortado por impago",
	"14": "Potencia Solicitada mayor que la Potencia Máxima Autorizada en baja tensión",
	"15": "Secuencia de Potencias incorrectas, Pi>Pi+1",
	"17": "Tarifa no válida para la Tensión de Suministro",
	"18": "Equipo nuevo propiedad del Cliente no cumple los criterios de Contratación ATR",
	"20": "Instalación no disponible o ampliación suministro en trámite (Expediente Abierto + Código de Expediente + Motivo de Expediente)",
	"21": "Existencia de Contrato Previo en vigor",
	"22": "Potencia Solicitada mayor que la Potencia Máxima Reconocida de Extensión",
	"23": "CNAE No Informado o no válido",
	"26": "Acceso imposibilitado más de dos veces por causas ajenas a la Distribuidora",
	"27": "Caja ICP no válida o inexistente",
	"28": "Rechazo por Anormalidad",
	"29": "Falta Equipo Cliente",
	"31": "Impedimento del Titular",
	"32": "Suministro Esencial",
	"34": "Cliente no cortable por orden judicial o administrativa",
	"35": "Cliente ya cortado",
	"36": "NIF-CIF Erróneo",
	"37": "Existencia de Solicitud previa en curso A3",
	"38": "Existencia de Solicitud previa en curso C1",
	"39": "Existencia de Solicitud previa en curso C2",
	"40": "Existencia de Solicitud previa en curso M1",
	"42": "No es posible anulación. OT ya en campo o acciones no anulables en una reclamación",
	"43": "No es posible anulación. Solicitud ya activada",
	"46": "Fecha de la operación solicitada con carácter retroactivo",
	"47": "Potencias No Normalizadas en Suministro Trifásico",
	"48": "Potencias No Normalizadas en Suministro Monofásico",
	"49": "Necesario cambio de Tensión Monofásica a Trifásica",
	"50": "Transformadores de medida fuera de rango",
	"52": "Tarifa no válida para Potencias Solicitadas",
	"53": "Necesidad de abrir Expediente de Acometida",
	"54": "No Existe Boletín Eventual",
	"55": "Nuevo Cliente coincide con el Actual",
	"56": "Falta de Datos en Campo 84 en Modificaciones",
	"57": "Falta documentación técnica de baja tensión",
	"58": "Falta teléfono de contacto",
	"59": "Armario / Módulo no válido o inexistente",
	"60": "Instalación incompleta o con elementos no válidos",
	"61": "CGP no válida o inexistente",
	"62": "Actuación Solicitada por Comercializador no acorde con requerimientos Cliente",
	"63": "Potencia Solicitada no puede ser inferior a Potencia de B.I.E. (Suministros en Modo 2 no interrumpibles)",
	"64": "Desconexión no posible técnicamente en Corte",
	"65": "Más de una modificación de potencia en un punto de suministro en menos de 12 meses para el mismo titular del punto de suministro",
	"66": "Suministro telegestionado",
	"67": "Suministro con maxímetro",
	"68": "No permitido a comercializadora de ML",
	"69": "El distribuidor no está de acuerdo",
	"70": "Comercializador inhabilitado",
	"71": "Existen varios contratos para el mismo suministro",
	"72": "Contrato en baja",
	"73": "Suministro con potencia mayor de 15 kW",
	"74": "Suministro con más de un contador",
	"75": "Discrepancia entre información de lecturas y número de integradores",
	"76": "Más dígitos que número de ruedas",
	"77": "Lectura menor que la última real",
	"78": "Consumo excesivo",
	"79": "Periodo de lectura inferior",
	"80": "Suministro con maxímetro y/o reactiva",
	"83": "Pobreza Energética",
	"84": "Reclamación Duplicada",
	"85": "Falta un campo obligatorio",
	"86": "Código de Expediente de Acometida Erróneo",
	"87": "Factura inexistente",
	"88": "Factura no telegestionada",
	"93": "Autoconsumo: Tipo de autoconsumo no válido",
	"A1": "Incidencia no subsanada",
	"A2": "Contrato cortado por el distribuidor",
	"A3": "Instalación peligrosa",
	"A4": "Rechazo a solicitud de la comercializadora",
	"A5": "Potencia superior/inferior al tipo de contrato",
	"A6": "Potencia solicitada difiere de la autorizada",
	"A7": "Fecha de autorización vencida",
	"A8": "Precisa autorización ministerial",
	"A9": "Potencia Solicitada mayor que la Potencia Máxima Autorizada en alta tensión",
	"B1": "Falta documentación técnica de alta tensión",
	"B2": "Rechazo por Fraude contrastado",
	"B3": "Punto de suministro no localizado",
	"B4": "Comercializador fuera de su ámbito geográfico",
	"B5": "Existencia de Solicitud previa en curso B1 (motivo 01)",
	"B6": "Existencia de Solicitud previa en curso B1 (motivo 02)",
	"B7": "Existencia de Solicitud previa en curso B1 (motivo 03)",
	"B8": "Existencia de Solicitud previa en curso B1 (motivo 04)",
	"B9": "Existencia de solicitud de baja por impago en curso no anulable B1 (motivo, 01, 02 (si la COR ha rechazado el traspaso y ya se han iniciado trabajos para dar de baja) 04 o motivo 03 en el proceso de baja del contrato de acceso)",
	"C1": "Concurrencia con cambio de comercializador/Traspaso a la COR. Se prioriza la activación del cambio sobre la baja",
	"C2": "Imposible reenganchar por causas técnicas",
	"C3": "Comercializador en proceso de inhabilitación",
	"C4": "Desconexión no posible técnicamente en Corte por peligrosidad",
	"C5": "No es posible solicitar un cambio/modificación/alta a fecha fija para una fecha > 30 días naturales",
	"C6": "Oposición expresa del titular en campo. Se adjunta documentación",
	"C7": "Impedimento del Titular. Iniciar si procede, el proceso de fraude",
	"C8": "Rechazo de la suspensión del suministro por concurrencia con baja por impago",
	"C9": "El tipo de activación solicitada no es coherente con el tipo de solicitud",
	"D1": "Suministro acogido a bono social",
	"D2": "No es posible anulación ya que no existe solicitud previa",
	"D3": "No cumple con la potencia normalizada para el PS ni el múltiplo de potencia establecido",
	"D4": "El tipo de tensión solicitada es la que ya tiene el PS",
	"D5": "Falta documentación según lo establecido en la Ley 12/2017 de las Islas Baleares",
	"D6": "Identificador del titular del proceso subyacente no coincide con el titular que pretende desistir",
	"D7": "Desistimiento sobre un proceso de contratación en curso",
	"D8": "Desistimiento no posible técnicamente en campo",
	"D9": "Desistimiento no posible por movimiento de contratación posterior",
	"E1": "Código de solicitud de referencia no existe en la distribuidora",
	"E2": "El desistimiento no aplica al proceso subyacente",
	"E3": "Desistimiento solicitado por Persona Jurídica",
	"E4": "Impago Previo",
	"E5": "CUPS sujeto a LOPD",
	"E6": "Modificación del tipo de autoconsumo no permitida. No ha trascurrido un año desde la última modificación",
	"E7": "Falta acuerdo de reparto o/y fichero de coeficientes/Acuerdo de reparto o/y fichero de coeficientes incorrecto/Faltan coeficientes de reparto en acuerdo fichero",
	"E8": "No recibida información técnica de la CCAA (para BT y <=100kW)",
	"E9": "En el periodo establecido, no se han recibido el resto de solicitudes de modificación del colectivo",
	"F1": "Disconformidad del consumidor a la información sobre autoconsumo",
	"F2": "No existe un alta en autoconsumo previo",
	"F3": "Tipo de autoconsumo no coherente con el esquema de medida",
	"F4": "Tipo de autoconsumo no coherente con el tipo de instalación",
	"F5": "Instalación de >100kW en BT o Instalación en AT",
	"G1": "Sólo se podrá modificar: -el tipo de identificador y el identificador o, -nombre y apellidos (razón social)",
	"G2": "Revisión interior incorrecta, debe aportar documentación técnica posterior a la revisión",
	"G3": "Código solicitud ATR/reclamación anterior inexistente",
	"G4": "Suministro Mínimo Vital",
	"G5": "Este tipo de modificación (“M”/”B”) solo aplica a solicitudes de modificación (formato M1) de suministros en bono social (suministrados por COR)",
	"G6": "No es posible modificar fichero de coeficientes si no ha transcurrido un mínimo de 4 meses desde la última modificación",
	"G7": "Si los SSAA no son despreciables y se da de alta un único contrato, el tipo de instalación no puede ser “03” (próxima a través de red)",
	"G8": "La solicitud de modificación de autoconsumo coincide con la contratación en vigor",
	"G9": "La solicitud de modificación no puede incorporar otras modificaciones técnicas",
	"H0": "Instalación de autoconsumo no preparada en campo",
	"H1": "Tipo Autoconsumo no válido",
	"H2": "Tipo Subsección no válido",
	"H3": "Autoconsumo colectivo/individual",
	"H4": "La instalación del cliente no puede tener vertidos a la red",
	"H5": "No se puede solicitar una segunda modificación de potencia en un mismo ciclo de facturación",
	"H6": "La reducción de potencia no cumple con los requisitos establecidos en el artículo 7 RDL 18/2022",
	"H7": "Falta documentación de autoconsumo",
	"H8": "Movimiento de cambio de acuerdo de reparto en vuelo",
	"H9": "Solicitud ya realizada por otro",
	"I1": "Identificador del titular que pretende reponer no coincide con el titular del contrato previo al proceso subyacente",
	"I2": "Reposición solicitada en instalaciones superiores a 1 kV",
	"I3": "La reposición no aplica al proceso subyacente",
	"I4": "Reposición no posible técnicamente en campo",
	"I5": "Reposición no posible por movimiento de contratación posterior",
	"I6": "Reposición solicitada supera plazo máximo de 1 año",
	"I7": "Concurrencia con proceso de reposición. Se prioriza la activación de la reposición",
	"I8": "Existencia de una solicitud previa en curso",
	"J1": "Vigencia del contrato que se pretende reponer está finalizado",
	"J2": "Se dispone de aval documental acreditativo",
	"J3": "Se rechaza reposición sin motivo específico",
	"J4": "Modificación técnica solicitada coincide con la previa en distribuidor",
	"J5": "Comercializador entrante rechaza la reposición",
	"J6": "Reposición sobre un cambio de comercializador en curso",
	"99": "Otros",
}
