using System.IO.Compression;
using System.Security;
using System.Text;

namespace PioFvlm.Bench.Eval.Submission;

/// <summary>
/// The MMBench upload (OpenCompass), as LLaVA's convert_mmbench_for_submission.py writes it: the question TSV's rows
/// (without the image column) plus a <c>prediction</c> column, as an .xlsx workbook (a minimal OOXML package with
/// inline strings, written here so no spreadsheet library is needed).
/// </summary>
public static class MmBenchSubmission
{
    public static int Write(IReadOnlyList<AnswerRecord> answers, string tsvFile, string output)
    {
        var byId = answers.ToDictionary(a => a.QuestionId, a => a.Text);
        var lines = File.ReadAllLines(tsvFile);
        if (lines.Length == 0) throw new Datasets.EvalDataException($"{tsvFile}: empty file");
        var header = lines[0].Split('\t');
        int image = Array.IndexOf(header, "image"), index = Array.IndexOf(header, "index");
        if (index < 0) throw new Datasets.EvalDataException($"{tsvFile}:1: header lacks 'index'");
        var keep = Enumerable.Range(0, header.Length).Where(c => c != image).ToArray();
        var rows = new List<string[]> { keep.Select(c => header[c]).Append("prediction").ToArray() };
        int missing = 0;
        foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
        {
            var f = line.Split('\t');
            if (!byId.TryGetValue(f[index], out var prediction)) { missing++; prediction = ""; }
            rows.Add(keep.Select(c => c < f.Length ? f[c] : "").Append(prediction).ToArray());
        }
        string temp = output + ".tmp";
        using (var zip = ZipFile.Open(temp, ZipArchiveMode.Create))
        {
            Entry(zip, "[Content_Types].xml", """<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>""");
            Entry(zip, "_rels/.rels", """<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>""");
            Entry(zip, "xl/workbook.xml", """<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>""");
            Entry(zip, "xl/_rels/workbook.xml.rels", """<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>""");
            var sheet = new StringBuilder("""<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>""");
            foreach (var row in rows)
            {
                sheet.Append("<row>");
                foreach (var cell in row)
                    sheet.Append("<c t=\"inlineStr\"><is><t xml:space=\"preserve\">").Append(SecurityElement.Escape(cell)).Append("</t></is></c>");
                sheet.Append("</row>");
            }
            sheet.Append("</sheetData></worksheet>");
            Entry(zip, "xl/worksheets/sheet1.xml", sheet.ToString());
        }
        File.Move(temp, output, overwrite: true);
        return missing;
    }

    static void Entry(ZipArchive zip, string name, string content)
    {
        using var w = new StreamWriter(zip.CreateEntry(name).Open(), new UTF8Encoding(false));
        w.Write(content);
    }
}
