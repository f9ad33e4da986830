using System.Collections.Frozen;

namespace LoKO.Engine.Text;

/// <summary>
/// Strips accents from precomposed Latin letters ("é" → "e"), as bert-base-uncased does with
/// NFD + dropping non-spacing marks. Needed because the project runs with invariant
/// globalization, where <see cref="string.Normalize()"/> does not decompose, so the tokenizer's
/// own accent removal only sees marks that are already separate characters.
/// </summary>
internal static class AccentFolding
{
    // Generated from Unicode NFD for U+00C0–U+024F and U+1E00–U+1EFF: each letter whose
    // decomposition is one base character plus non-spacing marks.
    private const string Accented =
        "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöù" +
        "úûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮ" +
        "įİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭ" +
        "ŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǢǣǦǧǨǩǪ" +
        "ǫǬǭǮǯǰǴǵǸǹǺǻǼǽǾǿȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧ" +
        "ȨȩȪȫȬȭȮȯȰȱȲȳḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣ" +
        "ḤḥḦḧḨḩḪḫḬḭḮḯḰḱḲḳḴḵḶḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋṌṍṎṏṐṑṒṓ" +
        "ṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬṭṮṯṰṱṲṳṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃ" +
        "ẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẛẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸ" +
        "ẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨ" +
        "ứỪừỬửỮữỰựỲỳỴỵỶỷỸỹ";

    private const string Bare =
        "AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooou" +
        "uuuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiI" +
        "iIJjKkLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtUuUuUu" +
        "UuUuUuWwYyYZzZzZzOoUuAaIiOoUuUuUuUuUuAaAaÆæGgKkO" +
        "oOoƷʒjGgNnAaÆæØøAaAaEeEeIiIiOoOoRrRrUuUuSsTtHhAa" +
        "EeOoOoOoOoYyAaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHh" +
        "HhHhHhHhIiIiKkKkKkLlLlLlLlMmMmMmNnNnNnNnOoOoOoOo" +
        "PpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUuUuUuUuUuVvVvWwWw" +
        "WwWwWwXxXxYyZzZzZzhtwyſAaAaAaAaAaAaAaAaAaAaAaAaE" +
        "eEeEeEeEeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuU" +
        "uUuUuUuUuYyYyYyYy";

    private static readonly FrozenDictionary<char, char> Map =
        Accented.Zip(Bare).ToFrozenDictionary(p => p.First, p => p.Second);

    public static string Fold(string text)
    {
        var firstHit = -1;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] >= '\u00C0' && Map.ContainsKey(text[i]))
            {
                firstHit = i;
                break;
            }
        }
        if (firstHit < 0)
            return text;

        return string.Create(text.Length, (text, firstHit), static (span, state) =>
        {
            state.text.AsSpan().CopyTo(span);
            for (var i = state.firstHit; i < span.Length; i++)
            {
                if (span[i] >= '\u00C0' && Map.TryGetValue(span[i], out var bare))
                    span[i] = bare;
            }
        });
    }
}
