//! Coordinates published by others, so that the tests check this module against the world
//! rather than against itself. Only numbers are taken, each with its source.

use fieldsync_protocol::gps::LatLon;

const fn ll(lat: f64, lon: f64) -> LatLon {
    LatLon { lat, lon }
}

/// (place, WGS-84, GCJ-02) from googollee/eviltransform `go/transform_test.go` (the same
/// three pairs are in its `python/test.py` and `javascript/test.js`).
pub const EVILTRANSFORM: [(&str, LatLon, LatLon); 3] = [
    (
        "shanghai",
        ll(31.1774276, 121.5272106),
        ll(31.17530398364597, 121.531541859215),
    ),
    (
        "shenzhen",
        ll(22.543847, 113.912316),
        ll(22.540796131694766, 113.9171764808363),
    ),
    (
        "beijing",
        ll(39.911954, 116.377817),
        ll(39.91334545536069, 116.38404722455657),
    ),
];

pub struct City {
    pub name: &'static str,
    pub wgs: LatLon,
    pub gcj: LatLon,
    pub bd: LatLon,
}

/// City points in all three systems from hujiulong/gcoord `test/fixtures/china-cities.json`
/// (there `[lon, lat]`): the two in Ningxia, the nearest ones in Inner Mongolia and Gansu, and
/// Shanghai for contrast.
pub const GCOORD_CITIES: [City; 5] = [
    City {
        // "银川市", district "金凤区"
        name: "yinchuan",
        wgs: ll(38.4867312, 106.2265089),
        gcj: ll(38.4871981, 106.2309166),
        bd: ll(38.4931761, 106.2374035),
    },
    City {
        // "中卫市", district "沙坡头区"
        name: "zhongwei",
        wgs: ll(37.4994127, 105.193128),
        gcj: ll(37.4999772, 105.1969046),
        bd: ll(37.5057774, 105.2034758),
    },
    City {
        // "阿拉善盟", district "阿拉善左旗" (Inner Mongolia, 16 km beyond Helan County)
        name: "alxa",
        wgs: ll(38.8513598, 105.7246953),
        gcj: ll(38.8519252, 105.7289635),
        bd: ll(38.8582012, 105.7353409),
    },
    City {
        // "金昌市", district "金川区" (Gansu)
        name: "jinchang",
        wgs: ll(38.5196469, 102.1860478),
        gcj: ll(38.5200925, 102.1880474),
        bd: ll(38.5258128, 102.194653),
    },
    City {
        // "上海市", district "黄浦区"
        name: "shanghai",
        wgs: ll(31.2323443, 121.4691633),
        gcj: ll(31.2304194, 121.4737061),
        bd: ll(31.2363541, 121.4802435),
    },
];

pub const YINCHUAN: usize = 0;
pub const ZHONGWEI: usize = 1;
pub const ALXA: usize = 2;

pub struct SinglePoint {
    pub input: LatLon,
    pub wgs_to_gcj: LatLon,
    pub wgs_to_bd: LatLon,
    pub gcj_to_wgs: LatLon,
    pub gcj_to_bd: LatLon,
    pub bd_to_gcj: LatLon,
    pub bd_to_wgs: LatLon,
}

/// hujiulong/gcoord `test/unit/crs/WGS84.spec.ts`, `GCJ02.spec.ts` and `BD09.spec.ts`: the
/// point [123, 45] read as each system and converted to the others.
pub const GCOORD_123_45: SinglePoint = SinglePoint {
    input: ll(45.0, 123.0),
    wgs_to_gcj: ll(45.00197815, 123.00607541),
    wgs_to_bd: ll(45.0083293, 123.0124491),
    gcj_to_wgs: ll(44.99804071, 122.99395597),
    gcj_to_bd: ll(45.00636899, 123.00636499),
    bd_to_gcj: ll(44.99365430, 122.99363304),
    bd_to_wgs: ll(44.99171540, 122.98762210),
};

/// Xingqing District (兴庆区, 640104), the old centre of Yinchuan: 38°28′N 106°29′E, the
/// coordinates of en.wikipedia.org/wiki/Xingqing_District (WGS-84, to the minute).
pub const XINGQING_CENTRE: LatLon = ll(38.467, 106.483);

/// Pingliang municipal government, Gansu, 17 km south of Jingyuan County: 35.5424°N 106.6649°E
/// (en.wikipedia.org/wiki/Pingliang).
pub const PINGLIANG: LatLon = ll(35.5424, 106.6649);
