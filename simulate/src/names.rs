//! Plausible Chinese names and places for the simulator.

use crate::rng::Rng;

/// Common surnames with rough frequency weights (per mille of the population).
const SURNAMES: &[(&str, u32)] = &[
    ("王", 72),
    ("李", 72),
    ("张", 68),
    ("刘", 54),
    ("陈", 45),
    ("杨", 31),
    ("赵", 23),
    ("黄", 22),
    ("周", 21),
    ("吴", 21),
    ("徐", 17),
    ("孙", 15),
    ("胡", 13),
    ("朱", 12),
    ("高", 12),
    ("林", 11),
    ("何", 11),
    ("郭", 11),
    ("马", 11),
    ("罗", 9),
    ("梁", 8),
    ("宋", 7),
    ("郑", 7),
    ("谢", 6),
    ("韩", 6),
    ("唐", 6),
    ("冯", 6),
    ("于", 5),
    ("董", 5),
    ("萧", 5),
    ("程", 5),
    ("曹", 5),
    ("袁", 5),
    ("邓", 5),
    ("许", 5),
    ("傅", 4),
    ("沈", 4),
    ("曾", 4),
    ("彭", 4),
    ("吕", 4),
    ("苏", 4),
    ("卢", 4),
    ("蒋", 4),
    ("蔡", 4),
    ("贾", 4),
    ("丁", 3),
    ("魏", 3),
    ("薛", 3),
    ("叶", 3),
    ("阎", 3),
    ("雷", 3),
    ("白", 3),
    ("惠", 2),
    ("党", 2),
    ("拓", 1),
    ("折", 1),
    ("呼", 1),
    ("乔", 2),
    ("尚", 2),
    ("姬", 1),
];

const GIVEN: &[&str] = &[
    "建", "国", "军", "明", "华", "平", "文", "伟", "芳", "秀", "英", "兰", "桂", "梅", "玉", "珍",
    "红", "霞", "丽", "娟", "强", "磊", "涛", "勇", "杰", "刚", "鹏", "辉", "斌", "海", "宏", "志",
    "忠", "武", "生", "富", "贵", "荣", "春", "林", "山", "峰", "凤", "琴", "花", "爱", "云", "娥",
    "巧", "彦", "亮", "宁", "博", "瑞", "静", "婷", "雪", "燕", "萍", "利",
];

/// Names of the Hui and other minorities written with the separator `·`.
const MINORITY: &[(&str, &str)] = &[
    ("阿依古丽", "买买提"),
    ("穆罕默德", "马"),
    ("阿卜杜", "热合曼"),
    ("古丽", "艾山"),
    ("努尔", "哈斯木"),
    ("玛丽娅", "马"),
];

const PLACE: &[&str] = &[
    "东", "西", "南", "北", "新", "古", "永", "安", "和", "兴", "长", "高", "石", "柳", "杨", "李",
    "王", "马", "河", "川", "沟", "坪", "塬", "峁", "湾", "庄", "堡", "寨", "桥", "岭",
];

pub(crate) fn person_name(rng: &mut Rng) -> String {
    if rng.chance_ppm(3_000) {
        let (a, b) = rng.pick(MINORITY);
        return format!("{a}·{b}");
    }
    let weights: Vec<u32> = SURNAMES.iter().map(|(_, w)| *w).collect();
    let surname = SURNAMES[rng.weighted(&weights)].0;
    let mut name = surname.to_owned();
    name.push_str(rng.pick::<&str>(GIVEN));
    if rng.percent(70) {
        name.push_str(rng.pick::<&str>(GIVEN));
    }
    name
}

/// The same person's name written with a different last character (a homophone typed
/// instead), for duplicate registrations whose names conflict.
pub(crate) fn conflicting_name(rng: &mut Rng, name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    let last = chars.len() - 1;
    loop {
        let c = rng.pick(GIVEN).chars().next().expect("one character");
        if c != chars[last] {
            chars[last] = c;
            return chars.into_iter().collect();
        }
    }
}

pub(crate) fn place_name(rng: &mut Rng) -> String {
    let mut s = String::new();
    s.push_str(rng.pick::<&str>(PLACE));
    s.push_str(rng.pick::<&str>(PLACE));
    s
}
